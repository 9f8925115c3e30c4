// The whole report, raw samples included, pretty-printed: the format other tools read.
import type { BenchReport } from '../result.js';
import type { BenchExporter } from './exporter.js';

export const jsonExporter: BenchExporter = {
  extension: 'json',
  serialize: (report: BenchReport) => `${JSON.stringify(report, null, 2)}\n`,
};
