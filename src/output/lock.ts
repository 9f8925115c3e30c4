// One writer per output file: `<file>.lock` holds the writer's PID. A second run
// that targets the same file is refused; a lock whose PID is no longer running
// (a run killed with -9) is stale and taken over.
import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { BackbonesError } from '../errors.js';

export function lockPath(file: string): string {
  return `${file}.lock`;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as { code?: string }).code === 'EPERM';
  }
}

function holder(lock: string): number | null {
  try {
    const pid = Number(readFileSync(lock, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function ageMs(lock: string): number {
  try {
    return Date.now() - statSync(lock).mtimeMs;
  } catch {
    return Infinity;
  }
}

export interface OutputLock {
  readonly file: string;
  release(): void;
}

/** Locks this process holds (a lock file with our own PID but not listed here was left by a dead namesake). */
const heldHere = new Set<string>();

/** Takes `<file>.lock` or throws one sentence naming the run that holds it. */
export function acquireOutputLock(file: string): OutputLock {
  const lock = lockPath(file);
  if (heldHere.has(path.resolve(lock))) {
    throw new BackbonesError('E_LOCKED', `Another run in this process is writing ${file}; wait for it to finish.`);
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(lock, 'wx');
    } catch (e) {
      if ((e as { code?: string }).code !== 'EEXIST') {
        throw new BackbonesError('E_USAGE', `Cannot create the lock file ${lock}: ${(e as Error).message}`);
      }
      const pid = holder(lock);
      // A lock with no PID yet may be one another run has just created: count it as held for a moment.
      const fresh = pid === null && ageMs(lock) < 5000;
      if (fresh || (pid !== null && pid !== process.pid && pidAlive(pid))) {
        throw new BackbonesError(
          'E_LOCKED',
          `Another backbones run (PID ${pid ?? 'unknown'}) is writing ${file}; wait for it to finish, or delete ${lock} if that process is not backbones.`,
        );
      }
      // Stale (its process is gone) or unreadable: take it over, unless someone else just did.
      if (holder(lock) === pid) {
        try {
          unlinkSync(lock);
        } catch {
          // removed by a concurrent taker: try again
        }
      }
      continue;
    }
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    heldHere.add(path.resolve(lock));
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      heldHere.delete(path.resolve(lock));
      process.off('exit', release);
      try {
        if (holder(lock) === process.pid) unlinkSync(lock);
      } catch {
        // already gone
      }
    };
    // A run that ends by an error still removes its lock; a killed one leaves a stale one, taken over next time.
    process.on('exit', release);
    return { file, release };
  }
  throw new BackbonesError('E_LOCKED', `Could not take the lock ${lock}: other runs keep taking it over.`);
}
