// The KServe v2 / Triton HTTP inference protocol, the subset existing clients need:
// health, model metadata, and infer with an FP32 NHWC tensor (already preprocessed)
// or a BYTES tensor of encoded images (base64 strings in JSON). Outputs are
// "probabilities" (the classifier, softmaxed as classify does) or any layer's name
// (its raw output, as extract --pool none).
// https://kserve.github.io/website/latest/modelserving/data_plane/v2_protocol/
import type { FastifyInstance, FastifyReply } from 'fastify';
import { float32ToString } from '../output/records.js';
import { HttpError } from './http-error.js';
import { deadlineOf, inferenceGuard, type ServeContext } from './context.js';
import type { Tensor } from './service.js';

export const PROBABILITIES = 'probabilities';

interface InferInput {
  name: string;
  shape: number[];
  datatype: string;
  data: unknown[];
}

interface InferRequest {
  id?: string;
  inputs: InferInput[];
  outputs?: { name: string }[];
}

const inferSchema = {
  type: 'object',
  required: ['inputs'],
  properties: {
    id: { type: 'string' },
    parameters: { type: 'object' },
    inputs: {
      type: 'array',
      minItems: 1,
      maxItems: 1,
      items: {
        type: 'object',
        required: ['name', 'shape', 'datatype', 'data'],
        properties: {
          name: { type: 'string' },
          shape: { type: 'array', items: { type: 'integer', minimum: 0 } },
          datatype: { type: 'string' },
          data: { type: 'array' },
          parameters: { type: 'object' },
        },
      },
    },
    outputs: { type: 'array', items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, parameters: { type: 'object' } } } },
  },
} as const;

export function registerKserve(app: FastifyInstance, ctx: ServeContext): void {
  const { service } = ctx;
  const live = { live: true };
  app.get('/v2/health/live', async () => live);
  app.get('/v2/health/ready', async (_req, reply) => {
    if (service.state === 'ready') return { ready: true };
    return reply.code(503).header('retry-after', String(service.retryAfterS)).send({ ready: false });
  });
  app.get('/v2', async () => ({ name: 'backbones', version: ctx.version, extensions: [] }));
  app.get<{ Params: { name: string } }>('/v2/models/:name/ready', async (req, reply) => {
    checkName(ctx, req.params.name);
    return reply.code(service.state === 'ready' ? 200 : 503).send({ name: ctx.modelName, ready: service.state === 'ready' });
  });
  app.get<{ Params: { name: string } }>('/v2/models/:name', async (req) => {
    checkName(ctx, req.params.name);
    service.assertReady();
    return metadata(ctx);
  });
  app.post<{ Params: { name: string }; Body: InferRequest }>(
    '/v2/models/:name/infer',
    { onRequest: inferenceGuard(ctx), schema: { body: inferSchema } },
    async (req, reply) => {
      checkName(ctx, req.params.name);
      return infer(ctx, req.body, reply);
    },
  );
}

function checkName(ctx: ServeContext, name: string): void {
  if (name !== ctx.modelName) throw new HttpError(404, `Unknown model "${name}"; this server serves "${ctx.modelName}".`);
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
    versions: ['1'],
    platform: `backbones_${info.engineName}`,
    // The run spec (src/spec/fingerprint.ts): what every answer of this server is made with.
    ...(info.spec ? { parameters: { spec: info.spec.fingerprint, ...Object.fromEntries(Object.entries(info.spec.fields).map(([k, v]) => [`spec_${k}`, v])) } } : {}),
    inputs: [
      { name: 'input', datatype: 'FP32', shape: [-1, h, w, 3], parameters: { preprocess: settings.preprocess, layout: 'NHWC' } },
      { name: 'images', datatype: 'BYTES', shape: [-1], parameters: { content: 'encoded images (JPEG, PNG, WebP, ...), base64 in JSON' } },
    ],
    outputs: [
      { name: PROBABILITIES, datatype: 'FP32', shape: [-1, ...(last ?? [-1])] },
      ...(layer ? [{ name: layer, datatype: 'FP32', shape: [-1, ...(layerShape ?? [-1])] }] : []),
    ],
  };
}

async function infer(ctx: ServeContext, body: InferRequest, reply: FastifyReply): Promise<FastifyReply> {
  const { service } = ctx;
  const input = body.inputs[0]!;
  const outputs = (body.outputs ?? [{ name: PROBABILITIES }]).map((o) => o.name);
  for (const name of outputs) {
    if (name !== PROBABILITIES && !service.hasLayer(name)) {
      throw new HttpError(400, `Unknown output "${name}": ask for "${PROBABILITIES}" or a layer of ${service.info.name}.`);
    }
  }
  const n = input.shape[0] ?? 0;
  if (n === 0) throw new HttpError(400, `Input "${input.name}" holds no images: its shape must start with the batch size.`);
  const release = ctx.admission.admit(n);
  const deadline = deadlineOf(ctx, reply);
  try {
    const rows = await deadline.race(inputRows(ctx, input));
    const tensors = await Promise.all(
      outputs.map(async (output) => {
        const jobs = rows.map((row) => service.submit(row, { kind: 'tensor', output }));
        const cancel = () => jobs.forEach((j) => j.cancel());
        return deadline.race(Promise.all(jobs.map((j) => j.result)), cancel) as Promise<Tensor[]>;
      }),
    );
    const parts = tensors.map((rowsOut, i) => {
      const shape = [rowsOut.length, ...rowsOut[0]!.shape];
      let data = '';
      for (const row of rowsOut) for (let j = 0; j < row.data.length; j++) data += (data ? ',' : '') + float32ToString(row.data[j]!);
      return `{"name":${JSON.stringify(outputs[i])},"datatype":"FP32","shape":${JSON.stringify(shape)},"data":[${data}]}`;
    });
    const head = JSON.stringify({ model_name: ctx.modelName, model_version: '1', ...(body.id !== undefined ? { id: body.id } : {}) });
    return reply.type('application/json; charset=utf-8').send(`${head.slice(0, -1)},"outputs":[${parts.join(',')}]}`);
  } finally {
    deadline.clear();
    release();
  }
}

/** One preprocessed HWC row per image, from an FP32 tensor or decoded BYTES. */
async function inputRows(ctx: ServeContext, input: InferInput): Promise<Float32Array[]> {
  const [h, w] = ctx.service.settings.size;
  const n = input.shape[0]!;
  if (input.datatype === 'FP32') {
    const [, sh, sw, sc] = input.shape;
    if (input.shape.length !== 4 || sh !== h || sw !== w || sc !== 3) {
      throw new HttpError(400, `FP32 input "${input.name}" must have shape [n, ${h}, ${w}, 3] (NHWC, preprocessed as "${ctx.service.settings.preprocess}"); got [${input.shape.join(', ')}].`);
    }
    const flat = input.data.flat(3) as unknown[];
    const size = h * w * 3;
    if (flat.length !== n * size) throw new HttpError(400, `FP32 input "${input.name}" holds ${flat.length} values; shape [${input.shape.join(', ')}] needs ${n * size}.`);
    const all = Float32Array.from(flat as number[]);
    if (!flat.every((v) => typeof v === 'number')) throw new HttpError(400, `FP32 input "${input.name}" must hold only numbers.`);
    return Array.from({ length: n }, (_, i) => all.subarray(i * size, (i + 1) * size));
  }
  if (input.datatype === 'BYTES') {
    if (input.shape.length < 1 || input.shape.slice(1).some((d) => d !== 1) || input.data.length !== n) {
      throw new HttpError(400, `BYTES input "${input.name}" must have shape [n] with n base64-encoded images; got shape [${input.shape.join(', ')}] and ${input.data.length} elements.`);
    }
    return Promise.all(
      input.data.map(async (item, i) => {
        if (typeof item !== 'string') throw new HttpError(400, `BYTES input "${input.name}"[${i}] must be a base64 string.`);
        try {
          return await ctx.service.decode(Buffer.from(item, 'base64'));
        } catch (e) {
          if (e instanceof HttpError) throw new HttpError(e.status, `Image ${i} of "${input.name}": ${e.message}`);
          throw e;
        }
      }),
    );
  }
  throw new HttpError(400, `Input "${input.name}" has datatype ${input.datatype}; this server takes FP32 (preprocessed NHWC) or BYTES (encoded images).`);
}
