// An error a client caused or must hear about: an HTTP status and one sentence,
// answered as {"error": "..."} by the server's error handler.
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** 503 with Retry-After: the client should come back later. */
export function unavailable(message: string, retryAfterS: number): HttpError {
  return new HttpError(503, message, { 'retry-after': String(retryAfterS) });
}
