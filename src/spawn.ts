// The one place that starts this project's own threads (decode pool, --workers model
// threads, serve's inference thread) and child processes (the bench child). An entry
// is named as its built file beside the caller ('./decode-thread.js'); run from src/
// under tsx (the tests), that file is absent and its .ts source runs instead, with
// tsx's loader registered in the thread first, since Node 20 does not hand the loader
// hooks of the parent to a worker thread.
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { fork, type ChildProcess, type ForkOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The built entry beside `from` (an import.meta.url), or its .ts source when it is not built. */
function entryOf(entry: string, from: string): { url: URL; built: boolean } {
  const js = new URL(entry, from);
  if (existsSync(fileURLToPath(js))) return { url: js, built: true };
  return { url: new URL(entry.replace(/\.js$/, '.ts'), from), built: false };
}

/** A thread started here (Node's Worker). */
export type Thread = Worker;

/** Starts a thread running `entry` (resolved beside `from`) with `workerData` (and V8 heap `resourceLimits`). */
export function startThread(entry: string, from: string, workerData: unknown, resourceLimits?: ResourceLimits): Thread {
  const { url, built } = entryOf(entry, from);
  const limits = resourceLimits ? { resourceLimits } : {};
  if (built) return new Worker(url, { workerData, ...limits });
  const bootstrap = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData, ...limits });
}

/** Forks a Node.js child process running `entry` (resolved beside `from`); from source, it runs under tsx like this process. */
export function startChild(entry: string, from: string, options: ForkOptions): ChildProcess {
  const { url, built } = entryOf(entry, from);
  const execArgv = options.execArgv ?? process.execArgv;
  const needsTsx = !built && !execArgv.some((a) => a.includes('tsx'));
  return fork(fileURLToPath(url), [], needsTsx ? { ...options, execArgv: [...execArgv, '--import', 'tsx'] } : options);
}
