// The HTTP server: fastify (body limits, schema validation, pino access logs,
// graceful close), the routes of v1.ts and kserve.ts, API-key auth, JSON errors and
// Prometheus metrics. It listens before the model is loaded: health answers at once,
// inference routes answer 503 + Retry-After until the service is ready.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import multipart from '@fastify/multipart';
import { errorMessage } from '../errors.js';
import { HttpError } from './http-error.js';
import { awaitsContinue, dropUnreadBody } from './unread-body.js';
import { Admission, shuttingDown } from './admission.js';
import { ServeMetrics } from './metrics.js';
import { ModelService } from './service.js';
import type { ServeContext } from './context.js';
import { IMAGE_CONTENT_TYPES, registerV1 } from './v1.js';
import { registerKserve } from './kserve.js';
import { registerSearchRoute, type SearchIndex } from './search.js';

export interface ServerOptions {
  service: ModelService;
  metrics: ServeMetrics;
  modelName: string;
  version: string;
  maxQueue: number;
  timeoutMs: number;
  /** Largest body (one image, one multipart file, or a KServe JSON request). */
  maxBodyBytes: number;
  /** Bearer token required on everything but health. */
  apiKey?: string;
  /** pino level: fatal, error, warn, info, debug, trace, silent. */
  logLevel: string;
  /** Where JSON access logs go (default stderr: stdout is for data). */
  logStream?: NodeJS.WritableStream;
  /** serve --search: the vector store behind POST /v1/search. */
  search?: SearchIndex;
}

const OPEN_PATHS = new Set(['/v2/health/live', '/v2/health/ready']);
/** On shutdown, how long a connection that has sent nothing yet may take to send its request (then 503). */
const LINGER_MS = 1000;

export async function buildServer(o: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: { level: o.logLevel, stream: o.logStream ?? process.stderr },
    bodyLimit: o.maxBodyBytes,
    // Connections idle on keep-alive are closed on shutdown; busy ones finish first.
    forceCloseConnections: 'idle',
    // Requests arriving while closing get our own JSON 503 (hook below), not fastify's.
    return503OnClosing: false,
  });
  const { metrics } = o;
  const ctx: ServeContext = {
    service: o.service,
    metrics,
    admission: new Admission(o.maxQueue, (n) => metrics.inFlight.set(n), () => metrics.rejected.inc({ reason: 'queue-full' })),
    modelName: o.modelName,
    timeoutMs: o.timeoutMs,
    maxBodyBytes: o.maxBodyBytes,
    version: o.version,
  };

  await app.register(multipart, { limits: { fileSize: o.maxBodyBytes, files: o.maxQueue, fields: 16, parts: o.maxQueue + 16 } });
  for (const type of ['application/octet-stream', /^image\/[\w.+-]+$/]) {
    app.addContentTypeParser(type, { parseAs: 'buffer', bodyLimit: o.maxBodyBytes }, (_req, body, done) => done(null, body));
  }

  // Once closing, new requests get 503, requests whose body is still arriving get 503
  // once it has (Admission), and answers end their keep-alive connection, so close()
  // need not wait for clients to hang up (fastify only closes the connections idle when
  // it starts). The port stays open until the admitted images are answered and no
  // connection accepted in the last LINGER_MS is still silent: closing it resets every
  // connection still in the kernel's accept queue, and on a busy server that can be
  // dozens of requests already on their way; this way they get a 503 instead.
  let closing = false;
  const acceptedAt = new Map<Socket, number>();
  app.server.on('connection', (socket: Socket) => {
    acceptedAt.set(socket, performance.now());
    socket.once('close', () => acceptedAt.delete(socket));
  });
  app.addHook('preClose', async () => {
    closing = true;
    ctx.admission.stop();
    const start = performance.now();
    const settled = () => {
      const now = performance.now();
      return ctx.admission.inFlight === 0 && ![...acceptedAt].some(([socket, at]) => socket.bytesRead === 0 && now - at < LINGER_MS);
    };
    while (!settled() && performance.now() - start < o.timeoutMs) await new Promise((r) => setTimeout(r, 20));
  });
  app.addHook('onRequest', async () => {
    if (closing) throw shuttingDown();
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    if (closing) reply.header('connection', 'close');
    // JSON is UTF-8 by definition; KServe's client reads an error only under exactly this type.
    if (reply.getHeader('content-type') === 'application/json; charset=utf-8') reply.type('application/json');
    return payload;
  });

  // "Expect: 100-continue": Node answers 100 at once unless the server listens for
  // checkContinue; then 100 goes out only once the request has passed every onRequest
  // check (auth, readiness, capacity), so a refused client never uploads its body.
  const continued = new WeakSet<IncomingMessage>();
  app.server.on('checkContinue', (req, res) => app.routing(req, res));
  app.addHook('preParsing', async (req, reply, payload) => {
    if (awaitsContinue(req.raw, continued.has(req.raw))) {
      continued.add(req.raw);
      reply.raw.writeContinue();
    }
    return payload;
  });
  /** Sends an error; a body not read yet is read first (see unread-body.ts), or the connection closes. */
  const sendError = async (req: { raw: IncomingMessage }, reply: FastifyReply, status: number, message: string, headers: Record<string, string> = {}) => {
    const drained = !awaitsContinue(req.raw, continued.has(req.raw)) && (await dropUnreadBody(req.raw, o.maxBodyBytes, o.timeoutMs));
    if (!drained) reply.header('connection', 'close');
    return reply.code(status).headers(headers).type('application/json').send(JSON.stringify({ error: message }));
  };

  if (o.apiKey) {
    const expected = digest(o.apiKey);
    app.addHook('onRequest', async (req) => {
      if (OPEN_PATHS.has(req.url.split('?')[0]!)) return;
      const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
      if (!m || !timingSafeEqual(digest(m[1]!.trim()), expected)) {
        throw new HttpError(401, 'Missing or wrong API key: send "Authorization: Bearer <key>".', { 'www-authenticate': 'Bearer' });
      }
    });
  }


  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const status = String(reply.statusCode);
    metrics.requests.inc({ route, method: req.method, status });
    metrics.latency.observe({ route, status }, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((err: FastifyError | HttpError, req, reply) => {
    const { status, message, headers } = describeError(err, o.maxBodyBytes);
    if (status >= 500 && status !== 503 && status !== 504) req.log.error({ err }, message);
    // (queue-full is counted where it happens, in Admission.)
    if (status === 503 && o.service.state !== 'ready') metrics.rejected.inc({ reason: 'not-ready' });
    if (status === 504) metrics.rejected.inc({ reason: 'timeout' });
    return sendError(req, reply, status, message, headers);
  });
  app.setNotFoundHandler((req, reply) => sendError(req, reply, 404, `No route ${req.method} ${req.url.split('?')[0]}: see docs/serve.md for the endpoints.`));

  app.get('/metrics', async (_req, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  registerV1(app, ctx);
  registerKserve(app, ctx);
  if (o.search) registerSearchRoute(app, ctx, o.search);
  return app;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Status and one sentence for any error a route or fastify raised. */
export function describeError(err: FastifyError | HttpError, maxBodyBytes: number): { status: number; message: string; headers: Record<string, string> } {
  if (err instanceof HttpError) return { status: err.status, message: err.message, headers: err.headers };
  const mb = (maxBodyBytes / 1024 / 1024).toFixed(maxBodyBytes % (1024 * 1024) === 0 ? 0 : 1);
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
    case 'FST_REQ_FILE_TOO_LARGE':
      return { status: 413, message: `The body is larger than this server's limit of ${mb} MB (--max-body-mb).`, headers: {} };
    case 'FST_FILES_LIMIT':
    case 'FST_PARTS_LIMIT':
      return { status: 413, message: 'The multipart body holds more files than this server takes at a time (--max-queue).', headers: {} };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, message: `Unsupported Content-Type: send ${IMAGE_CONTENT_TYPES}.`, headers: {} };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, message: 'The body is not valid JSON.', headers: {} };
  }
  if (err.validation) return { status: 400, message: `Invalid ${err.validationContext ?? 'request'}: ${err.message.replace(/^(querystring|body)\/?/, '')}.`.replace(/\.\.$/, '.'), headers: {} };
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500) return { status, message: errorMessage(err), headers: {} };
  return { status: 500, message: `Internal error: ${errorMessage(err)}`, headers: {} };
}
