// A request refused before its body was read (401, 415, 503, 413 by Content-Length)
// still has that body on the wire. When the connection closes after the answer (the
// client sent "Connection: close", or the server is shutting down), closing it with
// unread bytes makes the kernel send a reset: a client that uploads first and reads
// afterwards (Python's urllib, most blocking clients) gets "Broken pipe" and never sees
// the status or Retry-After. So the rest of the body is read and dropped first, within
// bounds (the server's body limit and the request deadline); past them the connection
// is closed anyway.
import type { IncomingMessage } from 'node:http';

/** Whether the client waits for "100 Continue" before sending its body (and has not been told). */
export function awaitsContinue(raw: IncomingMessage, sent100: boolean): boolean {
  return !sent100 && /^100-continue$/i.test(String(raw.headers.expect ?? '').trim());
}

/**
 * Reads and drops what is left of the body; true once it has all arrived, false when it
 * is larger than `maxBytes`, takes longer than `timeoutMs` or the connection fails.
 */
export function dropUnreadBody(raw: IncomingMessage, maxBytes: number, timeoutMs: number): Promise<boolean> {
  if (raw.complete || raw.readableEnded) return Promise.resolve(true);
  const declared = Number(raw.headers['content-length']);
  if (declared > maxBytes) return Promise.resolve(false);
  return new Promise<boolean>((resolve) => {
    let seen = 0;
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      raw.off('data', onData).off('end', onEnd).off('error', onFail).off('close', onClose);
      if (!ok) raw.pause();
      resolve(ok);
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > maxBytes) finish(false);
    };
    const onEnd = () => finish(true);
    const onFail = () => finish(false);
    const onClose = () => finish(raw.complete);
    const timer = setTimeout(() => finish(false), timeoutMs);
    raw.on('data', onData).once('end', onEnd).once('error', onFail).once('close', onClose);
    raw.resume();
  });
}
