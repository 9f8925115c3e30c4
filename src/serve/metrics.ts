// Prometheus metrics of one server, in their own registry (so tests can run several
// servers in one process). prom-client writes the exposition format.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BatchObserver } from './batcher.js';
import type { StageTimings } from '../pipeline/decode-one.js';

/** Seconds over which the images/s gauge averages. */
const RATE_WINDOW_S = 10;

export class ServeMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'route' | 'method' | 'status'>;
  readonly latency: Histogram<'route' | 'status'>;
  readonly queueDepth: Gauge;
  readonly inFlight: Gauge;
  readonly batchSize: Histogram;
  readonly inference: Histogram;
  readonly decodeStage: Histogram<'stage'>;
  readonly images: Counter;
  readonly rejected: Counter<'reason'>;
  private readonly recent: { at: number; n: number }[] = [];

  constructor(opts: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (opts.processMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry, prefix: 'backbones_' });
      // prom-client's nodejs_active_{handles,requests,resources}_total are gauges, and
      // a name ending in _total promises a counter (promtool rejects them); the same
      // gauges without _total, by type, hold the same numbers (sum() them).
      for (const m of this.registry.getMetricsAsArray()) {
        if (m.name.endsWith('_total') && !(m instanceof Counter)) this.registry.removeSingleMetric(m.name);
      }
    }
    this.requests = new Counter({ name: 'backbones_http_requests_total', help: 'HTTP requests by route template, method and status code', labelNames: ['route', 'method', 'status'], registers });
    this.latency = new Histogram({
      name: 'backbones_http_request_duration_seconds',
      help: 'HTTP request latency from arrival to the answer, by route template and status code',
      labelNames: ['route', 'status'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.queueDepth = new Gauge({ name: 'backbones_queue_depth', help: 'Decoded images waiting for a batch', registers });
    this.inFlight = new Gauge({ name: 'backbones_images_in_flight', help: 'Images admitted and not yet answered (decoding, waiting or in inference); bounded by --max-queue', registers });
    this.batchSize = new Histogram({ name: 'backbones_batch_size', help: 'Images per inference batch', buckets: [1, 2, 4, 8, 16, 32, 64, 128], registers });
    this.inference = new Histogram({
      name: 'backbones_inference_seconds',
      help: 'Time of one batch: stacking, inference and reading the results back',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.decodeStage = new Histogram({
      name: 'backbones_decode_stage_seconds',
      help: 'Time of one request image in each stage before its batch (decode, resize, preprocess), in a decode thread',
      labelNames: ['stage'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.images = new Counter({ name: 'backbones_images_inferred_total', help: 'Images that went through inference', registers });
    this.rejected = new Counter({ name: 'backbones_rejected_total', help: 'Requests refused before inference, by reason', labelNames: ['reason'], registers });
    const recent = this.recent;
    new Gauge({
      name: 'backbones_images_per_second',
      help: `Images inferred per second over the last ${RATE_WINDOW_S} s`,
      registers,
      collect() {
        const now = performance.now();
        while (recent.length > 0 && now - recent[0]!.at > RATE_WINDOW_S * 1000) recent.shift();
        this.set(recent.reduce((s, r) => s + r.n, 0) / RATE_WINDOW_S);
      },
    });
  }

  /** What the batcher reports, wired to these metrics. */
  readonly observer: BatchObserver = {
    queueDepth: (n) => this.queueDepth.set(n),
    batch: (size, ms) => this.batch(size, ms),
  };

  readonly decoded = (t: StageTimings): void => {
    this.decodeStage.observe({ stage: 'decode' }, t.decodeMs / 1000);
    this.decodeStage.observe({ stage: 'resize' }, t.resizeMs / 1000);
    this.decodeStage.observe({ stage: 'preprocess' }, t.preprocessMs / 1000);
  };

  batch(size: number, ms: number): void {
    this.batchSize.observe(size);
    this.inference.observe(ms / 1000);
    this.images.inc(size);
    this.recent.push({ at: performance.now(), n: size });
    if (this.recent.length > 10_000) this.recent.shift();
  }
}
