// glibc's allocator in a long-running process (serve). With its defaults, the memory a
// burst of big images freed stays with the process: every thread that allocates gets an
// arena of its own (up to 8 per core, each growing to 64 MB). Measured on serve
// (bench/RESULTS.md §15): RSS after 10 s at 32 connections 770 MiB with the defaults,
// 450-510 MiB with 2 arenas and a trim once a second. Fixing the mmap threshold at 1 MiB
// as well saved ~50 MiB more but made every big decode fault in fresh pages (more CPU per
// request), so glibc keeps sizing that one itself. Applied through the libjpeg-turbo addon
// (native/jpeg.c); without it, nothing changes.
import { loadAddon } from './jpeg-turbo.js';

/** Arenas in all: enough for the main, decode and inference threads not to queue on one lock. */
const ARENA_MAX = 2;

/** Call before the threads start (arenas made earlier keep their size). Returns false where it cannot apply (no addon, not glibc). */
export function tuneAllocatorForServing(): boolean {
  return loadAddon()?.tuneMalloc(ARENA_MAX, 0, 0) ?? false;
}

/** Hands the free pages of every arena back to the system (glibc malloc_trim); false where it cannot. */
export function trimAllocator(): boolean {
  return loadAddon()?.trim() ?? false;
}
