// The package version, read once from package.json. A leaf module: anything may
// import it without pulling in the command line.
import { createRequire } from 'node:module';

export const VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;
