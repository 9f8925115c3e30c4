// The readable view for a terminal: each image, then its top-k labels with bars.
import { Chalk } from 'chalk';
import { isError } from './records.js';
import type { OutputFormat, WriterFactory } from './writer.js';

export const tableWriter: WriterFactory = (sink, { colour }) => {
  const c = new Chalk({ level: colour ? 1 : 0 });
  return {
    write: (record) => {
      if (isError(record)) {
        sink.write(`${c.bold(record.path)}\n  ${c.red('error:')} ${record.error}\n`);
        return;
      }
      if (!('predictions' in record)) {
        sink.write(`${c.bold(record.path)}  ${record.layer} [${record.shape.join('×')}] → ${record.vector.length} values\n`);
        return;
      }
      const width = Math.max(...record.predictions.map((p) => p.label.length), 5);
      const lines = record.predictions.map((p, i) => {
        const pct = (p.prob * 100).toFixed(1).padStart(5) + '%';
        const bar = '█'.repeat(Math.round(p.prob * 20)).padEnd(20, '·');
        const label = i === 0 ? c.bold(p.label.padEnd(width)) : p.label.padEnd(width);
        return `  ${String(i + 1).padStart(2)}. ${label}  ${pct}  ${c.cyan(bar)}  ${c.dim(`${p.index}${p.wnid ? ' ' + p.wnid : ''}`)}`;
      });
      sink.write(`${c.bold(record.path)}\n${lines.join('\n')}\n`);
    },
    close: () => sink.close(),
  };
};

/** For people on a terminal; never chosen by a file name. */
export const tableFormat: OutputFormat = { name: 'table', extensions: [], holds: ['classify'], writer: tableWriter };
