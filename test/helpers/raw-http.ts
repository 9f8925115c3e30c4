// HTTP exchanges whose request is exact bytes: what a given client puts on the wire
// (header names, order and case, body), written to a raw socket. The answer is read
// by Node's own HTTP parser (http.request over an adapter whose writes are dropped),
// so nothing here parses HTTP by hand.
import http from 'node:http';
import net from 'node:net';
import { Duplex } from 'node:stream';

export interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** A socket error while the request was still being written (EPIPE, ECONNRESET), if any. */
  writeError: string | null;
}

/** One request as header lines + body: "POST /x HTTP/1.1", then `Name: value` lines in order. */
export function requestBytes(requestLine: string, headers: [string, string | number][], body: Buffer = Buffer.alloc(0)): Buffer {
  const head = [requestLine, ...headers.map(([k, v]) => `${k}: ${v}`)].join('\r\n') + '\r\n\r\n';
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

export interface ExchangeOptions {
  /** Write the whole request before looking at the answer, as Python's urllib does (default true). */
  uploadFirst?: boolean;
  /** Bytes per write (a slow, chunked upload). */
  chunkBytes?: number;
  /** Called once the first `pauseAfter` bytes are written; the rest waits for its promise. */
  pauseAfter?: number;
  pause?: () => Promise<void>;
  /** Called once the TCP connection is established. */
  onConnect?: () => void;
  /** HEAD requests have no answer body. */
  method?: string;
}

/** Sends `bytes` on a new connection to 127.0.0.1:port and reads one answer (status 0 when none came). */
export function exchange(port: number, bytes: Buffer, o: ExchangeOptions = {}): Promise<RawAnswer> {
  const socket = net.connect(port, '127.0.0.1', () => o.onConnect?.());
  const adapter = new Duplex({
    read() {},
    write(_chunk, _encoding, callback) {
      callback(); // http.request's own request bytes: dropped, `bytes` went instead
    },
  });
  let writeError: string | null = null;
  socket.on('error', (e: NodeJS.ErrnoException) => {
    writeError ??= e.code ?? e.message;
    adapter.push(null);
  });
  socket.on('data', (d) => adapter.push(d));
  socket.on('end', () => adapter.push(null));

  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const uploaded = (async () => {
    const chunk = o.chunkBytes ?? 64 * 1024;
    const send = async (from: number, to: number) => {
      for (let at = from; at < to; at += chunk) await write(socket, bytes.subarray(at, Math.min(to, at + chunk)));
    };
    const split = o.pause ? Math.min(o.pauseAfter ?? 0, bytes.length) : bytes.length;
    await send(0, split);
    if (o.pause) await o.pause();
    await send(split, bytes.length);
  })().catch((e: NodeJS.ErrnoException) => {
    writeError ??= e.code ?? e.message;
  });

  return (async () => {
    if (o.uploadFirst ?? true) await uploaded;
    const answer = await new Promise<Omit<RawAnswer, 'writeError'>>((resolve, reject) => {
      const req = http.request({ createConnection: () => adapter as unknown as net.Socket, method: o.method ?? 'POST', path: '/' }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    }).catch((e: Error) => {
      // No answer at all (a reset before it): status 0, and the socket error says why.
      writeError ??= e.message;
      return { status: 0, headers: {} as http.IncomingHttpHeaders, body: Buffer.alloc(0) };
    });
    await uploaded;
    // A server that closes after answering: a reset (unread bytes) shows up as an error here.
    if (answer.headers.connection === 'close') await closed;
    socket.destroy();
    return { ...answer, writeError };
  })();
}

function write(socket: net.Socket, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.destroyed) return reject(Object.assign(new Error('socket closed'), { code: 'ECONNRESET' }));
    socket.write(chunk, (e) => (e ? reject(e) : resolve()));
  });
}
