// POST /v1/search?k=10 (serve --search STORE): one image as the body → its k nearest
// stored images, as the rows `backbones search` writes. The image is extracted as the
// store's vectors were (its layer, pooling and L2; the served model and image settings
// were checked against the store's spec before listening), through the same admission,
// deadline, decode pool, batcher and metrics as /v1/extract.
import type { FastifyInstance } from 'fastify';
import { HttpError } from './http-error.js';
import { deadlineOf, inferenceGuard, type ServeContext } from './context.js';
import type { Features } from '../tasks/extract.js';
import type { LanceStore } from '../store/lance.js';
import type { StoredSpec } from '../store/stored-spec.js';
import { IMAGE_CONTENT_TYPES } from './v1.js';
import type { Pooling } from '../zoo/card.js';

export interface SearchIndex {
  store: LanceStore;
  /** How the store's vectors were made (checked against the served model before listening). */
  spec: StoredSpec;
  /** The layer, pooling and L2 a query is extracted with: the store's. */
  task: { kind: 'extract'; layer: string; pool: Pooling; l2: boolean };
  /** The store's ANN index type, or null (exact search). */
  index: string | null;
}

const searchQuery = {
  type: 'object',
  properties: { k: { type: 'integer', minimum: 1, maximum: 1000, default: 10 }, name: { type: 'string', maxLength: 1024 }, exact: { type: 'boolean', default: false } },
  additionalProperties: false,
} as const;

export function registerSearchRoute(app: FastifyInstance, ctx: ServeContext, search: SearchIndex): void {
  app.post('/v1/search', { onRequest: inferenceGuard(ctx), schema: { querystring: searchQuery } }, async (req, reply) => {
    const q = req.query as { k?: number; name?: string; exact?: boolean };
    if (!Buffer.isBuffer(req.body)) throw new HttpError(415, `Send one image as ${IMAGE_CONTENT_TYPES.split(' (one image)')[0]}; got ${req.headers['content-type'] ?? 'no Content-Type'}.`);
    const release = ctx.admission.admit(1);
    const deadline = deadlineOf(ctx, reply);
    try {
      const input = await deadline.race(ctx.service.decode(req.body));
      const job = ctx.service.submit(input, search.task);
      const f = (await deadline.race(job.result, job.cancel)) as Features;
      const found = await deadline.race(search.store.search(f.vector, q.k ?? 10, { exact: Boolean(q.exact) || search.index === null }));
      const query = q.name ?? 'body';
      return reply.type('application/json; charset=utf-8').send(found.map((n, i) => ({ query, rank: i + 1, path: n.path, similarity: n.similarity, distance: n.distance })));
    } finally {
      deadline.clear();
      release();
    }
  });
}
