import type { BenchReport } from '../result.js';

/** One output format (after hyperfine's `trait Exporter`). */
export interface BenchExporter {
  /** File extension without the dot, e.g. "md". */
  readonly extension: string;
  /** The whole report as text in this format. */
  serialize(report: BenchReport): string;
}
