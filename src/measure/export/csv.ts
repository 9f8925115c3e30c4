// One row per model × batch size (plus one per failed model), every column of
// columns.ts in its order, RFC 4180 quoting, numbers unformatted (full precision, base units), 'n/a' where nothing was measured.
import type { BenchReport } from '../result.js';
import type { BenchExporter } from './exporter.js';
import { benchRows, NA } from './format.js';
import { BENCH_COLUMNS } from './columns.js';
import { csvField } from '../../output/csv.js';

export const csvExporter: BenchExporter = {
  extension: 'csv',
  serialize(report: BenchReport): string {
    const lines = [BENCH_COLUMNS.map((c) => c.csv).join(',')];
    for (const { model, run } of benchRows(report)) {
      lines.push(BENCH_COLUMNS.map((c) => csvField(c.value(model, run), NA)).join(','));
    }
    return `${lines.join('\n')}\n`;
  },
};
