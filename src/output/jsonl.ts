// JSON Lines: one whole line per input, written as soon as it is known. The format
// to pipe into jq, and one --resume reads back.
import { readFileSync } from 'node:fs';
import { BackbonesError } from '../errors.js';
import { recordToJson } from './records.js';
import { partialPath, resumeSource } from './staged.js';
import type { OutputFormat, ResumeReader, ResumeState, WriterFactory } from './writer.js';

export const jsonlWriter: WriterFactory = (sink) => ({
  write: (record) => sink.write(recordToJson(record) + '\n'),
  close: () => sink.close(),
});

/** The complete lines of a file (a torn last line, left by a killed write, is not counted) and their byte length. */
export function completeLines(source: string): { lines: string[]; bytes: number } {
  const buf = readFileSync(source);
  const bytes = buf.lastIndexOf(0x0a) + 1;
  const lines = buf.subarray(0, bytes).toString('utf8').split('\n');
  lines.pop(); // after the last newline
  return { lines, bytes };
}

export const readJsonlResume: ResumeReader = (file) => {
  const source = resumeSource(file);
  const state: ResumeState = { done: new Set(), files: [], fromPartial: source === partialPath(file) };
  if (!source) return state;
  const { lines, bytes } = completeLines(source);
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') continue;
    let path: unknown;
    try {
      path = (JSON.parse(line) as { path?: unknown }).path;
    } catch {
      path = undefined;
    }
    if (typeof path !== 'string') {
      throw new BackbonesError('E_USAGE', `--resume: line ${i + 1} of ${source} is not a backbones JSONL record, so the file was left as it is.`);
    }
    state.done.add(path);
  }
  state.files.push({ file, source, keepBytes: bytes });
  return state;
};

export const jsonlFormat: OutputFormat = {
  name: 'jsonl',
  extensions: ['jsonl', 'ndjson'],
  holds: ['classify', 'extract'],
  writer: jsonlWriter,
  resume: readJsonlResume,
};
