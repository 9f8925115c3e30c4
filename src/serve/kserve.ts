// The KServe v2 / Open Inference Protocol (REST), as tritonclient and KServe's
// Python client speak it: health, server and model metadata, model readiness and
// infer, each also under /versions/1 (the one version metadata advertises). Infer
// takes one input: an FP32 NHWC tensor (already preprocessed) or a BYTES tensor of
// encoded images (base64 strings in JSON, raw bytes in binary). Outputs are
// "probabilities" (the classifier, softmaxed as classify does) or any layer's name (its
// raw output, as extract --pool none); "probabilities" also answers Triton's
// classification extension (parameters.classification = k: "prob:index:label" strings).
// The body is the protocol's JSON whatever its Content-Type (clients send none,
// application/json or application/octet-stream), optionally followed by binary tensors
// (kserve-wire.ts) and optionally gzip/deflate-compressed (tritonclient's
// request_compression_algorithm).
// https://github.com/kserve/kserve/blob/master/docs/predict-api/v2/required_api.md
import { createGunzip, createInflate } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest, RequestPayload } from 'fastify';
import { float32ToString, type Prediction } from '../output/records.js';
import { HttpError } from './http-error.js';
import { deadlineOf, inferenceGuard, type ServeContext } from './context.js';
import type { Tensor } from './service.js';
import { binaryOf, bytesElements, encodeInferAnswer, fp32Values, INFER_HEADER_LENGTH, splitInferBody, type OutputTensor, type WireInput, type WireRequest } from './kserve-wire.js';

export const PROBABILITIES = 'probabilities';
/** The one model version: advertised in metadata, accepted in URLs, returned in answers. */
export const MODEL_VERSION = '1';
/** Extensions GET /v2 advertises (Triton's names). */
const EXTENSIONS = ['binary_tensor_data', 'classification'];

const INPUTS = { input: 'FP32', images: 'BYTES' } as const;

const parameters = { type: 'object', additionalProperties: { anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] } } as const;

const inferSchema = {
  type: 'object',
  required: ['inputs'],
  properties: {
    id: { type: 'string' },
    parameters: { ...parameters, properties: { binary_data_output: { type: 'boolean' } } },
    inputs: {
      type: 'array',
      minItems: 1,
      maxItems: 1,
      items: {
        type: 'object',
        required: ['name', 'shape', 'datatype'],
        properties: {
          name: { type: 'string' },
          shape: { type: 'array', items: { type: 'integer', minimum: 0 } },
          datatype: { type: 'string' },
          data: { type: 'array' },
          parameters: { ...parameters, properties: { binary_data_size: { type: 'integer', minimum: 0 } } },
        },
      },
    },
    outputs: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name'],
        properties: {
          name: { type: 'string' },
          parameters: { ...parameters, properties: { binary_data: { type: 'boolean' }, classification: { type: 'integer', minimum: 1, maximum: 1000 } } },
        },
      },
    },
  },
} as const;

interface ModelParams {
  name: string;
  version?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Binary tensor bytes after the infer request's JSON. */
    inferTail: Buffer | null;
  }
}

export function registerKserve(app: FastifyInstance, ctx: ServeContext): void {
  const { service } = ctx;
  const live = { live: true };
  app.get('/v2/health/live', async () => live);
  app.get('/v2/health/ready', async (_req, reply) => {
    if (service.state === 'ready') return { ready: true };
    return reply.code(503).header('retry-after', String(service.retryAfterS)).send({ ready: false });
  });
  app.get('/v2', async () => ({ name: 'backbones', version: ctx.version, extensions: EXTENSIONS }));
  for (const base of ['/v2/models/:name', '/v2/models/:name/versions/:version']) {
    app.get<{ Params: ModelParams }>(`${base}/ready`, async (req, reply) => {
      checkModel(ctx, req.params);
      const ready = service.state === 'ready';
      if (!ready) reply.code(503).header('retry-after', String(service.retryAfterS));
      return reply.send({ name: ctx.modelName, ready });
    });
    app.get<{ Params: ModelParams }>(base, async (req) => {
      checkModel(ctx, req.params);
      service.assertReady();
      return metadata(ctx);
    });
  }
  // Its own context: the body parser takes any content type, and may be compressed.
  void app.register(async (sub) => {
    sub.decorateRequest('inferTail', null);
    sub.removeAllContentTypeParsers();
    sub.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: ctx.maxBodyBytes }, (req, body, done) => {
      try {
        const { json, tail } = splitInferBody(body as Buffer, req.headers[INFER_HEADER_LENGTH]);
        req.inferTail = tail;
        done(null, json);
      } catch (e) {
        done(e as Error, undefined);
      }
    });
    for (const base of ['/v2/models/:name', '/v2/models/:name/versions/:version']) {
      sub.post<{ Params: ModelParams; Body: WireRequest }>(
        `${base}/infer`,
        { onRequest: inferenceGuard(ctx), preParsing: decompress, schema: { body: inferSchema } },
        async (req, reply) => {
          checkModel(ctx, req.params);
          return infer(ctx, req, reply);
        },
      );
    }
  });
}

/** preParsing: inflates a gzip or deflate body; the body limit then applies to the inflated bytes. */
async function decompress(req: FastifyRequest, _reply: FastifyReply, payload: RequestPayload): Promise<RequestPayload> {
  const encoding = String(req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding === 'identity') return payload;
  if (encoding !== 'gzip' && encoding !== 'deflate') throw new HttpError(415, `Unsupported Content-Encoding "${encoding}": send the body as is, gzip or deflate.`);
  const inflate = (encoding === 'gzip' ? createGunzip() : createInflate()) as ReturnType<typeof createGunzip> & { receivedEncodedLength?: number };
  let encoded = 0;
  // fastify checks Content-Length against the bytes that arrived, not the inflated ones.
  payload.on('data', (chunk: Buffer) => {
    encoded += chunk.length;
    inflate.receivedEncodedLength = encoded;
  });
  payload.on('error', (e: Error) => inflate.destroy(e));
  inflate.on('error', () => undefined); // fastify's parser hears it (as a bad body)
  return payload.pipe(inflate);
}

function checkModel(ctx: ServeContext, { name, version }: ModelParams): void {
  if (name !== ctx.modelName) throw new HttpError(404, `Unknown model "${name}"; this server serves "${ctx.modelName}".`);
  if (version !== undefined && version !== MODEL_VERSION) {
    throw new HttpError(404, `Model "${name}" has no version "${version}"; its only version is "${MODEL_VERSION}".`);
  }
}

function metadata(ctx: ServeContext) {
  const { info, settings } = ctx.service;
  const [h, w] = settings.size;
  const layers = info.layers;
  const last = layers[layers.length - 1]?.outputShape ?? null;
  const layer = ctx.service.defaultLayer;
  const layerShape = layer ? layers.find((l) => l.name === layer)?.outputShape ?? null : null;
  return {
    name: ctx.modelName,
    versions: [MODEL_VERSION],
    platform: `backbones_${info.engineName}`,
    // The run spec (src/spec/fingerprint.ts): what every answer of this server is made with.
    ...(info.spec ? { parameters: { spec: info.spec.fingerprint, ...Object.fromEntries(Object.entries(info.spec.fields).map(([k, v]) => [`spec_${k}`, v])) } } : {}),
    inputs: [
      { name: 'input', datatype: INPUTS.input, shape: [-1, h, w, 3], parameters: { preprocess: settings.preprocess, layout: 'NHWC' } },
      { name: 'images', datatype: INPUTS.images, shape: [-1], parameters: { content: 'encoded images (JPEG, PNG, WebP, ...): base64 strings in JSON, raw bytes in binary' } },
    ],
    outputs: [
      { name: PROBABILITIES, datatype: 'FP32', shape: [-1, ...(last ?? [-1])] },
      ...(layer ? [{ name: layer, datatype: 'FP32', shape: [-1, ...(layerShape ?? [-1])] }] : []),
    ],
  };
}

interface AskedOutput {
  name: string;
  binary: boolean;
  /** Triton's classification extension: top-k as strings; 0 = the raw tensor. */
  classes: number;
}

function askedOutputs(ctx: ServeContext, body: WireRequest): AskedOutput[] {
  const { service } = ctx;
  const allBinary = body.parameters?.binary_data_output === true;
  const asked = (body.outputs ?? [{ name: PROBABILITIES }]).map((o) => ({
    name: o.name,
    binary: o.parameters?.binary_data ?? allBinary,
    classes: o.parameters?.classification ?? 0,
  }));
  const seen = new Set<string>();
  for (const o of asked) {
    if (seen.has(o.name)) throw new HttpError(400, `Output "${o.name}" is asked twice.`);
    seen.add(o.name);
    if (o.name !== PROBABILITIES && !service.hasLayer(o.name)) {
      throw new HttpError(400, `Unknown output "${o.name}": ask for "${PROBABILITIES}" or a layer of ${service.info.name}.`);
    }
    if (o.classes > 0 && o.name !== PROBABILITIES) throw new HttpError(400, `Classification (parameters.classification) applies to "${PROBABILITIES}" only, not to layer "${o.name}".`);
  }
  return asked;
}

async function infer(ctx: ServeContext, req: FastifyRequest<{ Body: WireRequest }>, reply: FastifyReply): Promise<FastifyReply> {
  const { service } = ctx;
  const body = req.body;
  const input = body.inputs[0]!;
  const expected = INPUTS[input.name as keyof typeof INPUTS];
  if (!expected) throw new HttpError(400, `Unknown input "${input.name}": send "input" (FP32, preprocessed NHWC) or "images" (BYTES, encoded images).`);
  if (input.datatype !== expected) throw new HttpError(400, `Input "${input.name}" is ${expected}; got datatype ${input.datatype}.`);
  const outputs = askedOutputs(ctx, body);
  const binary = binaryOf(input, req.inferTail ?? Buffer.alloc(0));
  const n = input.shape[0] ?? 0;
  if (n === 0) throw new HttpError(400, `Input "${input.name}" holds no images: its shape must start with the batch size.`);
  const release = ctx.admission.admit(n);
  const deadline = deadlineOf(ctx, reply);
  try {
    const rows = await deadline.race(inputRows(ctx, input, binary));
    const tensors = await Promise.all(
      outputs.map(async (output): Promise<OutputTensor> => {
        const ask = output.classes > 0 ? ({ kind: 'classify', k: output.classes } as const) : ({ kind: 'tensor', output: output.name } as const);
        const jobs = rows.map((row) => service.submit(row, ask, { clientTensor: input.datatype === 'FP32' }));
        const cancel = () => jobs.forEach((j) => j.cancel());
        const answers = await deadline.race(Promise.all(jobs.map((j) => j.result)), cancel);
        if (output.classes > 0) {
          const top = answers as Prediction[][];
          return { name: output.name, datatype: 'BYTES', shape: [n, output.classes], strings: top.flatMap((p) => p.map(classificationString)) };
        }
        const t = answers as Tensor[];
        return { name: output.name, datatype: 'FP32', shape: [n, ...t[0]!.shape], rows: t.map((r) => r.data) };
      }),
    );
    const head = { model_name: ctx.modelName, model_version: MODEL_VERSION, ...(body.id !== undefined ? { id: body.id } : {}) };
    const answer = encodeInferAnswer(head, tensors.map((tensor, i) => ({ tensor, binary: outputs[i]!.binary })));
    if (answer.headerLength === null) return reply.type('application/json').send(answer.body);
    return reply.type('application/octet-stream').header(INFER_HEADER_LENGTH, String(answer.headerLength)).send(answer.body);
  } finally {
    deadline.clear();
    release();
  }
}

/** Triton's classification string: value:index:label. */
function classificationString(p: Prediction): string {
  return `${float32ToString(p.prob)}:${p.index}:${p.label}`;
}

/** One preprocessed HWC row per image, from an FP32 tensor or decoded BYTES. */
async function inputRows(ctx: ServeContext, input: WireInput, binary: Buffer | null): Promise<Float32Array[]> {
  const [h, w] = ctx.service.settings.size;
  const n = input.shape[0]!;
  if (input.datatype === 'FP32') {
    const [, sh, sw, sc] = input.shape;
    if (input.shape.length !== 4 || sh !== h || sw !== w || sc !== 3) {
      throw new HttpError(400, `FP32 input "${input.name}" must have shape [n, ${h}, ${w}, 3] (NHWC, preprocessed as "${ctx.service.settings.preprocess}"); got [${input.shape.join(', ')}].`);
    }
    const all = fp32Values(input, binary, input.shape);
    const size = h * w * 3;
    return Array.from({ length: n }, (_, i) => all.subarray(i * size, (i + 1) * size));
  }
  if (input.shape.length < 1 || input.shape.slice(1).some((d) => d !== 1)) {
    throw new HttpError(400, `BYTES input "${input.name}" must have shape [n] (or [n, 1]) with n encoded images; got [${input.shape.join(', ')}].`);
  }
  const images = bytesElements(input, binary, n);
  return Promise.all(
    images.map(async (bytes, i) => {
      try {
        return await ctx.service.decode(bytes);
      } catch (e) {
        if (e instanceof HttpError) throw new HttpError(e.status, `Image ${i} of "${input.name}": ${e.message}`);
        throw e;
      }
    }),
  );
}
