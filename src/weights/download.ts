// Downloads weight files the way Keras' get_file does (stream, hash, then move into
// place), but safe against crashes and concurrent runs: bytes go to a unique temp file
// `<dest>.part-<pid>-<random>` in the destination folder, and only a complete file
// whose checksum matches is fsynced and renamed onto `dest` (rename is atomic on one
// filesystem). Every failure removes the temp file, so the cache never holds a partial
// or corrupt file. A TF.js model (model.json + shards) is downloaded into a temp
// folder that is renamed as a whole at the end: all files or none.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, rmdir } from 'node:fs/promises';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { WeightsError } from './errors.js';

export type HashAlgorithm = 'md5' | 'sha256';

export interface DownloadOptions {
  /** Expected hex digest of the file; null/undefined skips verification. */
  hash?: string | null;
  /** null/undefined: guessed from the digest length (32 hex: md5, 64: sha256), as Keras' get_file does. */
  hashAlgorithm?: HashAlgorithm | null;
  onProgress?: (received: number, total: number | undefined) => void;
  signal?: AbortSignal;
  /** Give up when no data arrives for this long, connecting included (default 30 000 ms). */
  idleTimeoutMs?: number;
  /** Registry name of the model, for the offline hint (`backbones models pull <name>`). */
  modelName?: string;
  /** Where the user should copy the file by hand, for the offline hint (default: dest). */
  cachePath?: string;
  /** cachePath is a TF.js model's folder (model.json and its shards), not one file. */
  folder?: boolean;
  /** This download is `backbones models pull` itself: the offline hint cannot suggest it. */
  pulling?: boolean;
}

export interface DownloadResult {
  path: string;
  bytes: number;
  /** Hex digest of what was written (the expected algorithm, else sha256). */
  digest: string;
  hashAlgorithm: HashAlgorithm;
}

export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

/** Whether a model or weights location is an http(s) URL rather than a local path. */
export function isUrl(location: string): boolean {
  return /^https?:\/\//i.test(location);
}

/** Error codes that mean "this machine cannot reach the host at all". */
const OFFLINE_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed',
  ENETUNREACH: 'network unreachable',
  EHOSTUNREACH: 'host unreachable',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
};

/** Walks err.cause / AggregateError.errors for the first errno-style code. */
export function errorCode(err: unknown, depth = 0): string | undefined {
  if (!err || typeof err !== 'object' || depth > 5) return undefined;
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string') return e.code;
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const code = errorCode(inner, depth + 1);
      if (code) return code;
    }
  }
  return errorCode(e.cause, depth + 1);
}

/** The one-sentence offline message, with the ways out. */
export function offlineMessage(file: string, reason: string, o: Pick<DownloadOptions, 'modelName' | 'cachePath' | 'folder' | 'pulling'> = {}): string {
  const pull = o.modelName ? `backbones models pull ${o.modelName}` : 'backbones models pull <model>';
  const where = o.cachePath ?? 'the weights cache';
  const thing = o.folder ? 'the model folder (model.json and its weight shards)' : 'the file';
  if (o.pulling) return `Could not download ${file} (${reason}): copy ${thing} to ${where} from a machine that can download it, or give runs --weights PATH.`;
  return `Could not download ${file} (${reason}); run \`${pull}\` on a machine with internet, copy ${thing} to ${where}, or pass --weights PATH.`;
}

function resolveAlgorithm(hash: string | null | undefined, algorithm: HashAlgorithm | null | undefined): HashAlgorithm {
  if (algorithm) return algorithm;
  if (hash && hash.length === 32) return 'md5';
  return 'sha256';
}

function tempName(dest: string): string {
  return `${dest}.part-${process.pid}-${randomBytes(6).toString('hex')}`;
}

/**
 * An AbortSignal that fires when any input fires (AbortSignal.any, which Node 20's
 * types lack). dispose() removes the listeners, so many downloads sharing one signal
 * do not pile them up (Node warns past 10).
 */
function anySignal(signals: (AbortSignal | undefined)[]): { signal: AbortSignal; dispose: () => void } {
  const ctrl = new AbortController();
  const removers: (() => void)[] = [];
  for (const s of signals) {
    if (!s) continue;
    if (s.aborted) {
      ctrl.abort(s.reason);
      break;
    }
    const onAbort = () => ctrl.abort(s.reason);
    s.addEventListener('abort', onAbort, { once: true });
    removers.push(() => s.removeEventListener('abort', onAbort));
  }
  return { signal: ctrl.signal, dispose: () => removers.forEach((r) => r()) };
}

function describe(err: unknown): string {
  const code = errorCode(err);
  const msg = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : undefined;
  return [msg, cause, code && !msg.includes(code) && !(cause ?? '').includes(code) ? code : undefined]
    .filter(Boolean)
    .join(': ');
}

/**
 * After a failed download: removes the folders `mkdir(dir, { recursive: true })`
 * created (`created` is what it returned: the topmost new one), innermost first, as
 * long as they are empty, so a failure leaves no empty folders in the cache.
 */
async function removeCreatedDirs(dir: string, created: string | undefined): Promise<void> {
  if (!created) return;
  for (let d = dir; ; d = path.dirname(d)) {
    try {
      await rmdir(d); // fails on a folder that is not empty (another download's): keep it
    } catch {
      return;
    }
    if (d === created || path.dirname(d) === d) return;
  }
}

/** Best-effort fsync of a folder, so a rename inside it survives a power cut. */
async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // not supported everywhere (e.g. Windows); the rename itself is still atomic.
  }
}

/**
 * Downloads `url` to `dest` (creating its folder). Verifies `hash` while streaming; on
 * a mismatch, an HTTP error, an interrupted or stalled transfer, the temp file is
 * deleted and a WeightsError is thrown. Cancelling through `signal` rethrows its reason.
 */
export async function downloadFile(url: string, dest: string, options: DownloadOptions = {}): Promise<DownloadResult> {
  const { hash, onProgress, signal } = options;
  const algorithm = resolveAlgorithm(hash, options.hashAlgorithm);
  const idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  signal?.throwIfAborted();

  const createdDir = await mkdir(path.dirname(dest), { recursive: true });
  const temp = tempName(dest);
  const idle = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => idle.abort(new WeightsError(`Download of ${url} stalled: no data for ${idleMs / 1000} s.`)), idleMs);
  };
  const combined = anySignal([signal, idle.signal]);
  const fetchSignal = combined.signal;
  let ok = false;
  const fh = await open(temp, 'wx');
  try {
    arm();
    let res: Response;
    try {
      res = await fetch(url, { signal: fetchSignal, headers: { 'accept-encoding': 'identity' } });
    } catch (err) {
      throw classify(err, url, dest, options, idle.signal, signal, 'connect');
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel().catch(() => undefined);
      throw new WeightsError(`HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''} for ${url}.`);
    }
    const lengthHeader = res.headers.get('content-length');
    const encoded = (res.headers.get('content-encoding') ?? 'identity') !== 'identity';
    const total = lengthHeader !== null && !encoded ? Number(lengthHeader) : undefined;
    const hasher = createHash(algorithm);
    let received = 0;
    onProgress?.(0, total);
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        arm();
        hasher.update(value);
        for (let off = 0; off < value.byteLength; ) {
          off += (await fh.write(value, off, value.byteLength - off)).bytesWritten;
        }
        received += value.byteLength;
        onProgress?.(received, total);
      }
    } catch (err) {
      throw classify(err, url, dest, options, idle.signal, signal, 'body', received, total);
    }
    clearTimeout(timer);
    if (total !== undefined && received !== total) {
      throw new WeightsError(`Download of ${url} was interrupted: got ${received} of ${total} bytes.`);
    }
    const digest = hasher.digest('hex');
    if (hash && digest.toLowerCase() !== hash.toLowerCase()) {
      throw new WeightsError(`Checksum mismatch for ${url}: expected ${hash}, got ${digest}`);
    }
    await fh.sync();
    await fh.close();
    await rename(temp, dest);
    await syncDir(path.dirname(dest));
    ok = true;
    return { path: dest, bytes: received, digest, hashAlgorithm: algorithm };
  } finally {
    clearTimeout(timer);
    combined.dispose();
    if (!ok) {
      await fh.close().catch(() => undefined);
      await rm(temp, { force: true });
      await removeCreatedDirs(path.dirname(dest), createdDir);
    }
  }
}

function classify(
  err: unknown,
  url: string,
  dest: string,
  options: DownloadOptions,
  idle: AbortSignal,
  user: AbortSignal | undefined,
  phase: 'connect' | 'body',
  received = 0,
  total?: number,
): unknown {
  if (user?.aborted) return user.reason ?? err;
  if (idle.aborted) return idle.reason as WeightsError;
  if (err instanceof WeightsError) return err;
  const code = errorCode(err);
  if (phase === 'connect' && code && OFFLINE_CODES[code]) {
    return new WeightsError(offlineMessage(url, OFFLINE_CODES[code], { ...options, cachePath: options.cachePath ?? dest }), {
      cause: err,
    });
  }
  if (phase === 'connect') return new WeightsError(`Could not download ${url}: ${describe(err)}.`, { cause: err });
  const of = total !== undefined ? ` of ${total}` : '';
  return new WeightsError(`Download of ${url} was interrupted after ${received}${of} bytes: ${describe(err)}.`, {
    cause: err,
  });
}

// --- TF.js layers models -----------------------------------------------------------

export interface TfjsDownloadOptions extends Omit<DownloadOptions, 'onProgress'> {
  /** Bytes of all files together; total is model.json's size plus the weights' size from the manifest, once known. */
  onProgress?: (received: number, total: number | undefined) => void;
  /** Parallel shard downloads (default 4). */
  concurrency?: number;
}

export interface TfjsDownloadResult {
  dir: string;
  modelJson: string;
  /** Paths relative to dir: model.json, then the shards. */
  files: string[];
  bytes: number;
}

interface ManifestGroup {
  paths: string[];
  weights: { shape: number[]; dtype: string; quantization?: { dtype: string } }[];
}

const BYTES_PER: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2, complex64: 8 };

/** Size of all weights a manifest describes, or undefined when one has no fixed size. */
function manifestBytes(manifest: ManifestGroup[]): number | undefined {
  let sum = 0;
  for (const group of manifest) {
    for (const w of group.weights ?? []) {
      const per = BYTES_PER[w.quantization?.dtype ?? w.dtype];
      if (per === undefined) return undefined;
      sum += per * w.shape.reduce((a, b) => a * b, 1);
    }
  }
  return sum;
}

/** A shard path from a (downloaded, so untrusted) model.json: relative, inside the folder. */
function checkShardPath(p: string): string {
  const norm = path.posix.normalize(p);
  if (!p || /^[a-z][a-z0-9+.-]*:/i.test(p) || p.includes('\\') || p.includes('\0') || norm.startsWith('/') || norm.startsWith('..')) {
    throw new WeightsError(`model.json lists a weights path outside its folder: ${JSON.stringify(p)}.`);
  }
  return norm;
}

/**
 * Downloads a TF.js layers model: `url` is its model.json (or the folder URL, then
 * model.json is appended). The hash options apply to model.json; the shards it lists
 * are fetched next to it (TF.js manifests carry no shard hashes). Everything goes into
 * `<destDir>.part-<pid>-<random>/`, which replaces `destDir` only when complete.
 */
export async function downloadTfjsModel(url: string, destDir: string, options: TfjsDownloadOptions = {}): Promise<TfjsDownloadResult> {
  const modelJsonUrl = /\.json($|\?)/i.test(url) ? url : `${url.replace(/\/?$/, '/')}model.json`;
  const tempDir = tempName(destDir);
  const failFast = new AbortController();
  const combined = anySignal([options.signal, failFast.signal]);
  const signal = combined.signal;
  const common: DownloadOptions = {
    signal,
    idleTimeoutMs: options.idleTimeoutMs,
    modelName: options.modelName,
    cachePath: options.cachePath ?? destDir,
    folder: true,
    ...(options.pulling ? { pulling: true } : {}),
  };
  // Created here: the cache's model folder (if new) above the temporary one.
  const createdDir = await mkdir(path.dirname(tempDir), { recursive: true });
  await mkdir(tempDir, { recursive: true });
  let ok = false;
  try {
    let received = 0;
    let total: number | undefined;
    const progress = (delta: number) => {
      received += delta;
      options.onProgress?.(received, total);
    };
    const tracker = () => {
      let last = 0;
      return (r: number) => {
        progress(r - last);
        last = r;
      };
    };

    // model.json is small: its bytes are reported with the first call that knows the total.
    const json = await downloadFile(modelJsonUrl, path.join(tempDir, 'model.json'), {
      ...common,
      hash: options.hash,
      hashAlgorithm: options.hashAlgorithm,
    });
    received = json.bytes;
    let parsed: { weightsManifest?: ManifestGroup[] };
    try {
      const fh = await open(json.path, 'r');
      try {
        parsed = JSON.parse(await fh.readFile('utf8')) as typeof parsed;
      } finally {
        await fh.close();
      }
    } catch (err) {
      throw new WeightsError(`${modelJsonUrl} is not valid JSON: ${(err as Error).message}.`, { cause: err });
    }
    const manifest = parsed.weightsManifest ?? [];
    const shards = [...new Set(manifest.flatMap((g) => (g.paths ?? []).map(checkShardPath)))];
    const weightBytes = manifestBytes(manifest);
    total = weightBytes === undefined ? undefined : json.bytes + weightBytes;
    options.onProgress?.(received, total);

    let next = 0;
    const fetchShards = async () => {
      while (next < shards.length) {
        const rel = shards[next++];
        await downloadFile(new URL(rel, modelJsonUrl).toString(), path.join(tempDir, rel), {
          ...common,
          onProgress: tracker(),
        });
      }
    };
    const n = Math.max(1, Math.min(options.concurrency ?? 4, shards.length));
    const lanes = Array.from({ length: n }, () =>
      fetchShards().catch((err: unknown) => {
        failFast.abort(err);
        throw err;
      }),
    );
    const results = await Promise.allSettled(lanes);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;

    // Swap the folder in: an existing one is moved aside first (rename onto a
    // non-empty folder fails), then removed.
    await mkdir(path.dirname(destDir), { recursive: true });
    let old: string | undefined;
    try {
      await rename(tempDir, destDir);
    } catch (err) {
      const code = errorCode(err);
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'EISDIR' && code !== 'ENOTDIR') throw err;
      old = `${destDir}.old-${process.pid}-${randomBytes(6).toString('hex')}`;
      await rename(destDir, old);
      await rename(tempDir, destDir);
    }
    ok = true;
    await syncDir(path.dirname(destDir));
    if (old) await rm(old, { recursive: true, force: true });
    return { dir: destDir, modelJson: path.join(destDir, 'model.json'), files: ['model.json', ...shards], bytes: received };
  } finally {
    combined.dispose();
    if (!ok) {
      await rm(tempDir, { recursive: true, force: true });
      await removeCreatedDirs(path.dirname(tempDir), createdDir);
    }
  }
}

// --- progress ----------------------------------------------------------------------

export interface ProgressReporter {
  /** Pass as onProgress. */
  onProgress: (received: number, total: number | undefined) => void;
  /** Ends the bar or prints the closing line; ok=false after a failure. */
  stop: (ok?: boolean) => void;
}

const MB = 1024 * 1024;
const mb = (n: number) => (n / MB).toFixed(1);

/**
 * A progress display on stderr: a cli-progress bar when stderr is a terminal, plain
 * lines at 25 % steps (or every 50 MB when the size is unknown) otherwise, nothing
 * when quiet. stdout is never touched (it may carry results).
 */
export function progressReporter(
  label: string,
  { quiet = false, stream = process.stderr }: { quiet?: boolean; stream?: NodeJS.WriteStream } = {},
): ProgressReporter {
  if (quiet) return { onProgress: () => undefined, stop: () => undefined };
  const started = Date.now();
  let last = 0;

  if (stream.isTTY) {
    let bar: cliProgress.SingleBar | undefined;
    let barTotal: number | undefined;
    return {
      onProgress(received, total) {
        last = received;
        if (!bar) {
          barTotal = total;
          bar = new cliProgress.SingleBar({
            stream,
            format:
              total !== undefined
                ? `${label} [{bar}] {percentage}% | {mb}/{totalMb} MB | ETA {eta_formatted}`
                : `${label} {mb} MB | {duration_formatted}`,
            hideCursor: null,
            barsize: 30,
          });
          bar.start(total ?? 1, total !== undefined ? received : 0, { mb: mb(received), totalMb: mb(total ?? 0) });
          return;
        }
        if (total !== undefined && total !== barTotal) {
          barTotal = total;
          bar.setTotal(total);
        }
        bar.update(barTotal !== undefined ? received : 0, { mb: mb(received), totalMb: mb(barTotal ?? 0) });
      },
      stop() {
        bar?.stop();
      },
    };
  }

  let nextMark: number | undefined;
  return {
    onProgress(received, total) {
      last = received;
      if (nextMark === undefined) {
        stream.write(`Downloading ${label}${total ? ` (${mb(total)} MB)` : ''}\n`);
        nextMark = total ? total / 4 : 50 * MB;
      }
      if (received >= nextMark && (!total || received < total)) {
        stream.write(`  ${label}: ${mb(received)}${total ? `/${mb(total)} MB (${Math.floor((100 * received) / total)}%)` : ' MB'}\n`);
        while (nextMark <= received) nextMark += total ? total / 4 : 50 * MB;
      }
    },
    stop(ok = true) {
      if (nextMark === undefined) return; // nothing was shown (e.g. failed before the first byte)
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      stream.write(ok ? `Downloaded ${label} (${mb(last)} MB in ${secs} s)\n` : `Download of ${label} failed after ${mb(last)} MB\n`);
    },
  };
}
