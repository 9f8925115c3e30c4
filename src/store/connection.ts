// Connecting to Redis (ioredis) with errors a user can act on: an unreachable server,
// a refused password and a connection lost mid-run each become one sentence that
// names the URL without its password. Shared by the feature store and the queue.
import { Redis, type RedisOptions } from 'ioredis';
import { BackbonesError, errorMessage } from '../errors.js';
import { log } from '../log.js';

/** Reconnect attempts after a connection that worked drops ($BACKBONES_REDIS_RECONNECTS, default 6), and the longest wait between them. */
export function reconnectAttempts(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.BACKBONES_REDIS_RECONNECTS);
  return env.BACKBONES_REDIS_RECONNECTS !== undefined && Number.isInteger(n) && n >= 0 ? n : 6;
}
const RECONNECT_MAX_DELAY_MS = 4000;

/** The URL as printed in messages: the password replaced by ***. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    // Not a URL: hide everything before an @, where a password would be.
    return url.includes('@') ? `***@${url.slice(url.lastIndexOf('@') + 1)}` : url;
  }
}

/** Checks the scheme early so a typo is a usage error, not a connection error. */
export function checkRedisUrl(url: string, flag: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new BackbonesError('E_USAGE', `${flag} must be a redis://[user:password@]host:port/db or rediss:// URL. Received: ${redactUrl(url)}`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new BackbonesError('E_USAGE', `${flag} must be a redis:// or rediss:// URL. Received: ${redactUrl(url)}`);
  }
  // ioredis would send SELECT NaN and fail later with a ReplyError: the database is a number.
  if (databaseOf(url) === null) {
    throw new BackbonesError('E_USAGE', `${flag} names the database "${decodeURIComponent(u.pathname.slice(1))}"; a Redis database is a number (redis://host:port/0). Received: ${redactUrl(url)}`);
  }
  return url;
}

/** The database a redis:// URL names (0 when none), or null when it is not a number. */
export function databaseOf(url: string): number | null {
  const db = new URL(url).pathname.replace(/^\//, '');
  if (db === '') return 0;
  return /^\d+$/.test(db) ? Number(db) : null;
}

// Several connections to one server (a queue worker has three) retry together: say it once.
const said = new Map<string, number>();
function firstToSay(where: string, attempt: number): boolean {
  const key = `${where}#${attempt}`;
  const now = Date.now();
  if (now - (said.get(key) ?? 0) < 2000) return false;
  said.set(key, now);
  return true;
}

export interface Connection {
  client: Redis;
  /** The URL without its password, for messages. */
  where: string;
  /** Why the connection last failed, if it did. */
  lastError(): string | undefined;
}

function describeFailure(where: string, reason: string | undefined): BackbonesError {
  const r = reason ?? 'no answer';
  if (/WRONGPASS|invalid password|invalid username-password/i.test(r)) {
    return new BackbonesError('E_REDIS', `Redis at ${where} refused the user name or password (${r.replace(/\.$/, '')}).`);
  }
  if (/NOAUTH/i.test(r)) {
    return new BackbonesError('E_REDIS', `Redis at ${where} needs a password: put it in the URL as redis://:PASSWORD@host:port/db.`);
  }
  return new BackbonesError('E_REDIS', `Cannot reach Redis at ${where}: ${r.replace(/\.$/, '')}.`);
}

/**
 * Connects and checks the server answers (which also checks the password). Fails at
 * once when the first connection fails; once connected, a dropped connection is
 * retried with growing waits, commands wait meanwhile, and after reconnectAttempts()
 * they fail (the caller then reports what was done).
 */
export async function connectRedis(url: string, options: RedisOptions & { idleUnref?: boolean } = {}): Promise<Connection> {
  const { idleUnref, ...redisOptions } = options;
  const where = redactUrl(url);
  let connected = false;
  let last: string | undefined;
  const attempts = reconnectAttempts();
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 5000,
    maxRetriesPerRequest: null,
    retryStrategy: (times) => {
      if (!connected || times > attempts) return null;
      const delay = Math.min(250 * 2 ** (times - 1), RECONNECT_MAX_DELAY_MS);
      if (firstToSay(where, times)) log.warn(`lost Redis at ${where} (${last ?? 'connection closed'}); reconnecting in ${delay} ms (attempt ${times} of ${attempts})`);
      return delay;
    },
    ...redisOptions,
  });
  // An idle store connection must not keep the process alive (a run that fails before
  // writing simply ends); holdOpen() keeps it alive while a command is in flight.
  if (idleUnref) client.on('ready', () => client.stream?.unref?.());
  client.on('error', (e: Error) => {
    last = errorMessage(e);
  });
  try {
    await holdOpen(client.connect().then(() => client.ping()));
  } catch (e) {
    client.disconnect();
    throw describeFailure(where, last ?? errorMessage(e));
  }
  // ioredis selects the URL's database when it connects, but a refusal (a database the server
  // does not have) only reaches its error event and commands then go to database 0: ask again.
  const db = databaseOf(url) ?? 0;
  if (db !== 0) {
    try {
      await holdOpen(client.select(db));
    } catch (e) {
      client.disconnect();
      const has = await databasesOf(url);
      throw new BackbonesError('E_USAGE', `Redis at ${where} has no database ${db} (${errorMessage(e).replace(/\.$/, '')})${has === null ? '' : `; it has ${has}, 0 to ${has - 1}`}: put one of those in the URL.`);
    }
  }
  connected = true;
  return { client, where, lastError: () => last };
}

/** How many databases the server has (CONFIG GET databases), or null when it does not say (CONFIG may be disabled). */
async function databasesOf(url: string): Promise<number | null> {
  const probe = new Redis(url, { lazyConnect: true, connectTimeout: 5000, maxRetriesPerRequest: 0, retryStrategy: () => null, db: 0 });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    const reply = (await probe.config('GET', 'databases')) as string[];
    const n = Number(reply[1]);
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  } finally {
    probe.disconnect();
  }
}

/** Keeps the process alive until `work` settles (the store's socket is unref'd while idle). */
export async function holdOpen<T>(work: Promise<T>): Promise<T> {
  const keepAlive = setInterval(() => undefined, 60_000);
  try {
    return await work;
  } finally {
    clearInterval(keepAlive);
  }
}
