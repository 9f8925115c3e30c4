// The page of docs/ that documents each command, named at the end of its --help: help
// texts stay short, the manual holds the reference (docs/ ships in the npm package).
// test/examples.test.ts checks that every command has a page and that the page exists.
import type { Command } from 'commander';

const SEARCH = 'docs/classify-extract.md#search-and-duplicates-extract---to-pathlance-search-dedup-store';

export const MANUAL_PAGES: Record<string, string> = {
  classify: 'docs/classify-extract.md',
  extract: 'docs/classify-extract.md',
  bench: 'docs/bench.md',
  models: 'docs/models.md',
  doctor: 'docs/gpu.md#backbones-doctor',
  quantize: 'docs/int8.md',
  serve: 'docs/serve.md',
  search: SEARCH,
  dedup: SEARCH,
  store: SEARCH,
  queue: 'docs/redis-queue.md',
  worker: 'docs/redis-queue.md',
};

/** Adds "Manual: docs/…" to the help of every command (subcommands get their parent's page). */
export function addManualPages(program: Command): void {
  program.addHelpText('after', '\nManual: README.md, and one page per topic in docs/.');
  for (const cmd of program.commands) {
    const page = MANUAL_PAGES[cmd.name()];
    if (page === undefined) continue;
    for (const c of [cmd, ...cmd.commands]) c.addHelpText('after', `\nManual: ${page}`);
  }
}
