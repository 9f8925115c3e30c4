#!/usr/bin/env node
// Entry point: the compiled CLI lives in dist/ (built by `npm install` via "prepare").
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  process.stderr.write('Error: backbones is not built yet: run `npm install` (or `npm run build`) in its folder.\n');
  process.exit(1);
}
// A reader that stops early (`backbones models list | head -1`) closes the pipe: that ends
// the output, it is not an error worth a stack trace.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});
const { runMain } = await import(cli.href);
const code = await runMain(process.argv);
// Let stdout drain before exiting (large JSON output through a pipe).
process.exitCode = code;
