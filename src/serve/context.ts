// What the route modules share: the model, backpressure, limits and metrics.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ModelService } from './service.js';
import type { ServeMetrics } from './metrics.js';
import { Admission, Deadline } from './admission.js';

export interface ServeContext {
  service: ModelService;
  metrics: ServeMetrics;
  admission: Admission;
  /** The name clients use in /v2/models/{name}. */
  modelName: string;
  timeoutMs: number;
  maxBodyBytes: number;
  version: string;
}

/** The request's deadline, counted from its arrival. */
export function deadlineOf(ctx: ServeContext, reply: FastifyReply): Deadline {
  const deadline = new Deadline(ctx.timeoutMs - reply.elapsedTime, ctx.timeoutMs);
  // A response closed before it was written means the client left.
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) deadline.abandon();
  });
  return deadline;
}

/** onRequest guard of inference routes: 503 before ready, when full or shutting down, before the body is read. */
export function inferenceGuard(ctx: ServeContext) {
  return async (_req: FastifyRequest): Promise<void> => {
    ctx.service.assertReady();
    ctx.admission.check();
  };
}
