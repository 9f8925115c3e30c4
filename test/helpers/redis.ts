// A throwaway redis-server for one test file: a free port on 127.0.0.1, no
// persistence, optionally a password. Without redis-server the Redis tests skip
// locally and FAIL under CI=true (the README's test command installs it).
import { before, after } from 'node:test';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import net from 'node:net';
import path from 'node:path';

export interface TestRedis {
  port: number;
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** For `test(name, { skip: skipWithoutRedis() }, fn)`. */
export function skipWithoutRedis(): false | string {
  const found = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (found.status === 0) return false;
  if (process.env.CI === 'true') throw new Error('redis-server not found; CI requires it (apt-get install redis-server, or run test/system/install.sh).');
  return 'redis-server not installed';
}

/** A port that was free a moment ago (redis-server does not take --port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface TlsFiles {
  cert: string;
  key: string;
  ca: string;
}

export interface RedisOptions {
  password?: string;
  /** Serve TLS only (rediss://) with this certificate. */
  tls?: TlsFiles;
}

async function startOnce(port: number, { password, tls }: RedisOptions): Promise<TestRedis> {
  const args = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'];
  // With TLS the plain port is switched off (0 disables it) and TLS listens on the free port.
  if (tls) args.push('--port', '0', '--tls-port', String(port), '--tls-cert-file', tls.cert, '--tls-key-file', tls.key, '--tls-ca-cert-file', tls.ca, '--tls-auth-clients', 'no');
  else args.push('--port', String(port));
  if (password) args.push('--requirepass', password);
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (log += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (log += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  // Ready when it accepts a TCP connection (bounded: 10 s).
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`redis-server exited on port ${port}: ${log.trim()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return { port, url: `${tls ? 'rediss' : 'redis'}://${password ? `:${password}@` : ''}127.0.0.1:${port}/0`, process: child, stop };
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error(`redis-server did not start on port ${port}: ${log.trim()}`);
}

/** Starts redis-server on a free port; retries once on a port race. */
export async function startRedis(options: RedisOptions = {}): Promise<TestRedis> {
  try {
    return await startOnce(await freePort(), options);
  } catch {
    return startOnce(await freePort(), options);
  }
}

/** A self-signed certificate for 127.0.0.1 (openssl), or a skip reason without openssl. */
export function selfSignedCert(dir: string): TlsFiles | string {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { encoding: 'utf8' });
  if (r.status !== 0) return `openssl could not make a certificate: ${r.error?.message ?? r.stderr}`;
  return { cert, key, ca: cert };
}

/**
 * One redis-server and one client for the tests of a file: started before them, stopped
 * after; `use` receives both (nothing starts when `skip` is set).
 */
export function redisForThisFile(skip: false | string, use: (server: TestRedis, client: Redis) => void): void {
  let server: TestRedis | undefined;
  let client: Redis | undefined;
  before(async () => {
    if (skip) return;
    server = await startRedis();
    client = new Redis(server.url);
    use(server, client);
  });
  after(async () => {
    client?.disconnect();
    await server?.stop();
  });
}
