// glibc's allocator in a long-running process (serve). With its defaults, the memory a
// burst of big images freed stays with the process: every thread that allocates gets an
// arena of its own (up to 8 per core, each growing to 64 MB). Measured on serve
// (bench/RESULTS.md §15): RSS after 10 s at 32 connections 770 MiB with the defaults,
// 450-510 MiB with 2 arenas and a trim once a second (now once a burst is over, below;
// §15.8). Fixing the mmap threshold at 1 MiB
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

/**
 * When to trim: once a burst of decodes is over (a whole tick without one), not during it.
 * Under steady load the next images reuse the freed pages at once; trimming every second
 * then (about 27 ms a call, and the pages faulted in again) cost 6-16 % of serve's
 * requests/s (bench/RESULTS.md §15.8).
 */
export class TrimAfterBursts {
  private decodedThisTick = false;
  private due = false;

  decoded(): void {
    this.decodedThisTick = true;
  }

  /** Call once per interval; true when the allocator should be trimmed now. */
  tick(): boolean {
    if (this.decodedThisTick) {
      this.decodedThisTick = false;
      this.due = true;
      return false;
    }
    const trim = this.due;
    this.due = false;
    return trim;
  }
}
