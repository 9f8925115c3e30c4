// POST /v1/classify and /v1/extract: one image as the body, or several as
// multipart/form-data. Answers are the records `backbones classify|extract` write
// (JSONL line for one image, a JSON array for multipart; a failed image in a
// multipart request is an {path, error, status} record, as the CLI writes one).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { recordToJson, type OutputRecord, type Prediction } from '../output/records.js';
import type { Features } from '../tasks/extract.js';
import { errorMessage } from '../errors.js';
import { HttpError } from './http-error.js';
import { POOLINGS, type Pooling } from '../zoo/card.js';
import { deadlineOf, inferenceGuard, type ServeContext } from './context.js';
import type { Ask } from './compute.js';
import type { Deadline } from './admission.js';

interface Upload {
  name: string;
  bytes: Buffer;
}

interface ImageQuery {
  k?: number;
  layer?: string;
  pool?: Pooling;
  l2?: boolean;
  name?: string;
}

const classifyQuery = {
  type: 'object',
  properties: { k: { type: 'integer', minimum: 1, maximum: 1000, default: 5 }, name: { type: 'string', maxLength: 1024 } },
  additionalProperties: false,
} as const;

const extractQuery = {
  type: 'object',
  properties: {
    layer: { type: 'string', minLength: 1, maxLength: 256 },
    pool: { type: 'string', enum: [...POOLINGS], default: 'none' },
    l2: { type: 'boolean', default: false },
    name: { type: 'string', maxLength: 1024 },
  },
  additionalProperties: false,
} as const;

export const IMAGE_CONTENT_TYPES = 'image/* or application/octet-stream (one image) or multipart/form-data (several)';

export function registerV1(app: FastifyInstance, ctx: ServeContext): void {
  const onRequest = inferenceGuard(ctx);
  app.post('/v1/classify', { onRequest, schema: { querystring: classifyQuery } }, (req, reply) =>
    answer(ctx, req, reply, { kind: 'classify', k: (req.query as ImageQuery).k ?? 5 }),
  );
  app.post('/v1/extract', { onRequest, schema: { querystring: extractQuery } }, (req, reply) => {
    const q = req.query as ImageQuery;
    const layer = q.layer ?? ctx.service.defaultLayer;
    if (!layer) throw new HttpError(400, `${ctx.service.info.name} has no default feature layer: pass ?layer=NAME.`);
    const pooling = q.pool ?? 'none';
    ctx.service.checkExtract(layer, pooling);
    return answer(ctx, req, reply, { kind: 'extract', layer, pool: pooling, l2: q.l2 ?? false });
  });
}

async function answer(ctx: ServeContext, req: FastifyRequest, reply: FastifyReply, ask: Ask): Promise<FastifyReply> {
  const multipart = req.isMultipart();
  const uploads = multipart ? await readParts(req, ctx.maxBodyBytes) : [singleUpload(req)];
  if (uploads.length === 0) throw new HttpError(400, 'The multipart body holds no file; send images as file parts.');
  const release = ctx.admission.admit(uploads.length);
  const deadline = deadlineOf(ctx, reply);
  try {
    const records = await Promise.all(uploads.map((u) => answerOne(ctx, u, ask, deadline)));
    reply.type('application/json; charset=utf-8');
    if (!multipart) {
      const only = records[0]!;
      if ('failure' in only) throw only.failure;
      return reply.send(recordToJson(only));
    }
    // One failed image does not fail the others; a deadline does fail the request.
    const timedOut = records.find((r) => 'failure' in r && r.failure.status === 504);
    if (timedOut && 'failure' in timedOut) throw timedOut.failure;
    const lines = records.map((r) => ('failure' in r ? JSON.stringify({ path: r.path, error: r.failure.message, status: r.failure.status }) : recordToJson(r)));
    return reply.send(`[${lines.join(',')}]`);
  } finally {
    deadline.clear();
    release();
  }
}

type Outcome = OutputRecord | { path: string; failure: HttpError };

async function answerOne(ctx: ServeContext, upload: Upload, ask: Ask, deadline: Deadline): Promise<Outcome> {
  const model = ctx.service.info.name;
  try {
    const input = await deadline.race(ctx.service.decode(upload.bytes));
    const job = ctx.service.submit(input, ask);
    const result = await deadline.race(job.result, job.cancel);
    if (ask.kind === 'classify') return { path: upload.name, model, predictions: result as Prediction[] };
    if (ask.kind !== 'extract') throw new Error('unreachable');
    const f = result as Features;
    return { path: upload.name, model, layer: ask.layer, shape: f.shape, vector: f.vector };
  } catch (e) {
    return { path: upload.name, failure: e instanceof HttpError ? e : new HttpError(500, `Internal error: ${errorMessage(e)}`) };
  }
}

function singleUpload(req: FastifyRequest): Upload {
  if (!Buffer.isBuffer(req.body)) {
    throw new HttpError(415, `Send ${IMAGE_CONTENT_TYPES}; got ${req.headers['content-type'] ?? 'no Content-Type'}.`);
  }
  return { name: (req.query as ImageQuery).name ?? 'body', bytes: req.body };
}

/** The file parts of a multipart body; the whole body is held to --max-body-mb, like a single image. */
async function readParts(req: FastifyRequest, maxBodyBytes: number): Promise<Upload[]> {
  const uploads: Upload[] = [];
  let total = 0;
  for await (const part of req.parts()) {
    if (part.type !== 'file') continue;
    const bytes = await part.toBuffer();
    total += bytes.length;
    if (total > maxBodyBytes) throw Object.assign(new Error('multipart body too large'), { code: 'FST_REQ_FILE_TOO_LARGE', statusCode: 413 });
    uploads.push({ name: part.filename || part.fieldname, bytes });
  }
  return uploads;
}
