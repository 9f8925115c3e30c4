// glibc's allocator in a long-running process (serve). With its defaults, the memory a
// burst of big images freed stays with the process: every thread that allocates gets an
// arena (up to 8 per core, each growing to 64 MB), and big blocks are kept in the heap
// once one of that size was freed. Measured on serve (bench/RESULTS.md §15): RSS after
// 10 s at 32 connections 770 MiB with the defaults, ~480 MiB with these settings.
// Applied through the libjpeg-turbo addon (native/jpeg.c); without it, nothing changes.
import { loadAddon } from './jpeg-turbo.js';

/** Arenas in all: enough for the main, decode and inference threads not to queue on one lock. */
const ARENA_MAX = 2;
/** Blocks from 1 MiB up (decoded images, request bodies) are mapped apart and unmapped when freed. */
const MMAP_THRESHOLD = 1024 * 1024;
/** Free memory at the top of a heap beyond this goes back at once. */
const TRIM_THRESHOLD = 1024 * 1024;

/** Call before the threads start (arenas made earlier keep their size). Returns false where it cannot apply (no addon, not glibc). */
export function tuneAllocatorForServing(): boolean {
  return loadAddon()?.tuneMalloc(ARENA_MAX, MMAP_THRESHOLD, TRIM_THRESHOLD) ?? false;
}

/** Hands the free pages of every arena back to the system (glibc malloc_trim); false where it cannot. */
export function trimAllocator(): boolean {
  return loadAddon()?.trim() ?? false;
}
