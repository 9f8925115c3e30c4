// What classify and extract compute per batch, described as data so that the same
// work can run in this thread or in --workers threads.
import type { tf } from '../tf.js';
import type { Backbone } from '../zoo/backbone.js';
import type { Pooling } from '../zoo/card.js';
import type { OutputRecord, Prediction } from '../output/records.js';
import { classifyBatch } from './classify.js';
import { extractBatch, type Features } from './extract.js';

export type Task = { kind: 'classify'; topK: number } | { kind: 'extract'; layer: string; pool: Pooling; l2: boolean };

export type TaskResult = Prediction[] | Features;

export function computeFor(task: Task, backbone: Backbone): (batch: tf.Tensor4D) => Promise<TaskResult[]> {
  return task.kind === 'classify'
    ? (batch) => classifyBatch(backbone, batch, task.topK)
    : (batch) => extractBatch(backbone, batch, task.layer, task.pool, task.l2);
}

export function recordFor(task: Task, model: string, path: string, result: TaskResult): OutputRecord {
  if (task.kind === 'classify') return { path, model, predictions: result as Prediction[] };
  const f = result as Features;
  return { path, model, layer: task.layer, shape: f.shape, vector: f.vector };
}

