// The one lifecycle of an output (classify, extract, queue export): planOutput checks
// every rule before anything is touched; openOutput takes the file's lock and reads what
// --resume continues (comparing the spec the file was made with); start() stages the
// files as FILE.partial (sidecars and FILE.spec.json included) and makes the writer;
// commit() renames them over the final names; abandon() keeps the partial files for
// --resume. A symlink is followed, a dangling one too (the link stays); a device or FIFO
// is written in place.
import { existsSync, readFileSync } from 'node:fs';
import { BackbonesError, usageError } from '../errors.js';
import { log } from '../log.js';
import { VERSION } from '../version.js';
import { checkOutput, extensionsHolding, formatFromExtension, outputFiles, resumeReaderFor, writerFor } from './index.js';
import { acquireOutputLock, type OutputLock } from './lock.js';
import type { OutputRecord, RecordKind } from './records.js';
import { fileSink, stdoutSink } from './sink.js';
import { differences, specSidecar, type ExpectedSpec, type SpecRecord } from './spec-record.js';
import { checkOutputFile, outputTarget, partialPath, stageForAppend, StagedFiles } from './staged.js';
import type { RecordWriter, ResumeState } from './writer.js';

export interface OutputRequest {
  /** -o FILE; absent: stdout. */
  output?: string;
  /** --format. */
  format?: string;
  /** The format when neither --format nor the -o extension says; absent: the extension must. */
  defaultFormat?: string;
  kind: RecordKind;
  /** --resume: continue the file (or the partial file a killed run left). */
  resume?: boolean;
  /** With --resume: start a file made differently again instead of refusing it. */
  overwrite?: boolean;
}

export interface OutputPlan {
  format: string;
  kind: RecordKind;
  /** -o as given. */
  output?: string;
  /** Where it really writes: a symlink followed; a device or FIFO in place. */
  target?: { path: string; special: boolean };
  resume: boolean;
  overwrite: boolean;
}

/** Every rule of an output, checked before anything is touched. */
export function planOutput(r: OutputRequest): OutputPlan {
  const format = r.format ?? formatFromExtension(r.output) ?? r.defaultFormat;
  if (!format) throw usageError(`Cannot tell the format of ${r.output ?? 'stdout'}: ${r.kind} writes ${extensionsHolding(r.kind).join(', ')} (or pass --format).`);
  const target = r.output !== undefined ? outputTarget(r.output) : undefined;
  const resume = Boolean(r.resume && r.output !== undefined);
  checkOutput(format, r.kind, { output: r.output, special: target?.special, resume, fromExtension: r.format === undefined && r.output !== undefined && format === formatFromExtension(r.output) });
  if (target && !target.special) checkOutputFile(target.path);
  return { format, kind: r.kind, ...(r.output !== undefined ? { output: r.output } : {}), ...(target ? { target } : {}), resume, overwrite: Boolean(r.overwrite) };
}

export interface OpenOutput {
  readonly plan: OutputPlan;
  /** Inputs the output already holds (--resume); empty otherwise. */
  readonly done: ReadonlySet<string>;
  /** The file they were read from, for messages. */
  readonly resumedFrom?: string;
  /** The inputs came from the partial file of a killed run (which is then finished even with nothing left). */
  readonly fromPartial: boolean;
  /** Starts writing: compares the final spec, stages the files (FILE.spec.json first), makes the writer. */
  start(spec: SpecRecord, o: { colour: boolean }): void;
  write(record: OutputRecord): void;
  /** Closes the writer and renames every staged file over its final name; releases the lock. */
  commit(): Promise<void>;
  /** Closes the writer and keeps the partial files (for --resume); releases the lock. Also ends an output never started. */
  abandon(): Promise<void>;
}

interface SpecFile {
  fingerprint?: string;
  fields?: Record<string, string>;
}

function readSpecFile(file: string): SpecFile | null {
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as SpecFile;
  } catch {
    return null;
  }
}

/**
 * What --resume continues, with the spec it was made with compared to `expected`: a file
 * made differently is refused (naming the fields) or, with --overwrite, started again.
 */
async function readResume(plan: OutputPlan, expected: ExpectedSpec): Promise<ResumeState | undefined> {
  const file = plan.target!.path;
  const state = await resumeReaderFor(plan.format)(file);
  if (state.files.length === 0) return undefined;
  const source = state.files[0]!.source;
  const sidecar = specSidecar(file);
  const recorded = readSpecFile(state.fromPartial && existsSync(partialPath(sidecar)) ? partialPath(sidecar) : sidecar);
  const problem = !recorded?.fields
    ? `${source} has no readable ${sidecar} saying how its rows were made`
    : (() => {
        const diff = differences(recorded.fields, expected.fields, expected.pending);
        return diff.length > 0 ? `${source} was made differently (${diff.join('; ')})` : null;
      })();
  if (!problem) return state;
  if (plan.overwrite) {
    log.info(`--overwrite: starting ${plan.output} again: ${problem}.`);
    return undefined;
  }
  throw usageError(`--resume: ${problem}, so it was left as it is; rerun without --resume, or with --overwrite, to start it again.`);
}

/** Takes the output's lock and reads what --resume continues; writes nothing yet. */
export async function openOutput(plan: OutputPlan, expected: ExpectedSpec = { fields: {} }): Promise<OpenOutput> {
  const target = plan.target;
  const file = target && !target.special ? target.path : undefined;
  // From here on the output file is ours until the run ends: a second run is refused at once.
  const lock: OutputLock | undefined = file ? acquireOutputLock(file) : undefined;
  let resume: ResumeState | undefined;
  try {
    resume = plan.resume && file ? await readResume(plan, expected) : undefined;
  } catch (e) {
    lock?.release();
    throw e;
  }
  let writer: RecordWriter | undefined;
  let staged: StagedFiles | undefined;
  let ended = false;
  const end = () => {
    ended = true;
    lock?.release();
  };
  return {
    plan,
    done: resume?.done ?? new Set(),
    ...(resume ? { resumedFrom: resume.files[0]!.source } : {}),
    fromPartial: resume?.fromPartial ?? false,
    start(spec, o) {
      if (writer || ended) throw new BackbonesError('E_INTERNAL', 'an output was started twice');
      if (resume) {
        // The int8 model was not known when the file was opened: compare every field now.
        const sidecar = specSidecar(file!);
        const recorded = readSpecFile(resume.fromPartial && existsSync(partialPath(sidecar)) ? partialPath(sidecar) : sidecar);
        const diff = differences(recorded?.fields ?? {}, spec.fields);
        if (diff.length > 0) {
          if (!plan.overwrite) throw usageError(`--resume: ${resume.files[0]!.source} was made differently (${diff.join('; ')}), so it was left as it is; rerun without --resume, or with --overwrite, to start it again.`);
          log.info(`--overwrite: starting ${plan.output} again: it was made differently (${diff.join('; ')}).`);
          resume = undefined;
        }
      }
      const appending = Boolean(resume);
      if (file) {
        // Every file of the output is staged as FILE.partial and renamed over FILE at the end.
        staged = new StagedFiles([...outputFiles(plan.format, file), specSidecar(file)]);
        if (resume) for (const f of resume.files) stageForAppend(f.file, f.source, f.keepBytes);
        // The spec first: a partial file is never without the record of how it is made.
        const side = staged.open(specSidecar(file));
        side.write(JSON.stringify({ backbones: VERSION, fingerprint: spec.fingerprint, fields: spec.fields }, null, 2) + '\n');
      }
      const sink = staged && file ? staged.open(file, { append: appending }) : target ? fileSink(target.path) : stdoutSink();
      const stagedFiles = staged;
      writer = writerFor(plan.format)(sink, {
        kind: plan.kind,
        colour: o.colour,
        appending,
        spec,
        ...(resume ? { resumed: resume } : {}),
        ...(target ? { file: target.path } : {}),
        ...(stagedFiles ? { open: (f: string, opts: { append?: boolean }) => stagedFiles.open(f, opts) } : {}),
      });
    },
    write(record) {
      if (!writer) throw new BackbonesError('E_INTERNAL', 'an output was written before it was started');
      writer.write(record);
    },
    async commit() {
      try {
        await writer?.close();
        await staged?.commit();
      } finally {
        end();
      }
    },
    async abandon() {
      try {
        // Keep what was written as FILE.partial (each record whole): --resume continues from it.
        await staged?.abandon();
      } finally {
        end();
      }
    },
  };
}
