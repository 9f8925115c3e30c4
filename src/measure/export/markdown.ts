// A GitHub-flavoured Markdown report: environment, how it was measured, one table
// row per model × batch size, then warnings and errors.
import type { BenchReport, ModelResult } from '../result.js';
import { warningMessage } from '../warnings.js';
import type { BenchExporter } from './exporter.js';
import { benchRows, environmentLines, methodLines, NA, warningLines } from './format.js';
import { columnsFor, type Column } from './columns.js';

/** Escapes a table cell: pipes, and line breaks that would end the row. */
function cell(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function row(cells: string[]): string {
  return `| ${cells.map(cell).join(' | ')} |`;
}

/** A failed model's row: what ran (model, backend, weights, …), "failed", n/a elsewhere (the error is listed below). */
function failedCell(column: Column, model: ModelResult): string {
  if (column.header === 'batch') return '**failed**';
  return column.failedCell?.(model) ?? NA;
}

export const markdownExporter: BenchExporter = {
  extension: 'md',
  serialize(report: BenchReport): string {
    const out: string[] = ['# backbones bench', ''];
    for (const l of environmentLines(report)) out.push(`- ${l}`);
    out.push('', '## Method', '');
    out.push(methodLines(report).join(' '), '');
    out.push('## Results', '');
    const columns = columnsFor(report);
    out.push(row(columns.map((c) => c.header)));
    out.push(`|${columns.map((c) => (c.align === 'right' ? ' ---: ' : ' --- ')).join('|')}|`);
    for (const { model, run } of benchRows(report)) {
      if (run) out.push(row(columns.map((c) => c.cell(model, run))));
      else out.push(row(columns.map((c) => failedCell(c, model))));
    }
    const warnings = warningLines(report);
    if (warnings.length > 0) {
      out.push('', '## Warnings', '');
      for (const { where, warning } of warnings) out.push(`- **${where}**: ${warningMessage(warning)}`);
    }
    const failed = report.models.filter((m) => m.status === 'failed');
    if (failed.length > 0) {
      out.push('', '## Errors', '');
      for (const m of failed) out.push(`- **${m.model}**: ${(m.error ?? 'failed without a message').replace(/\r?\n/g, ' ')}`);
    }
    return `${out.join('\n')}\n`;
  },
};
