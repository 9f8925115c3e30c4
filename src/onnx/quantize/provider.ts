// The int8 model for a loaded Keras model: a file given with --int8-model, the cached one
// for the same weights and calibration folder, or a fresh quantization (then cached).
// Every int8 model a run uses comes from int8ModelFor: the one place int8 bytes are obtained.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { BackbonesError, errorMessage } from '../../errors.js';
import { log } from '../../log.js';
import type { tf } from '../../tf.js';
import { cachedFileExists, writeAtomically } from '../cache.js';
import { exportToOnnx, EXPORTER_VERSION } from '../export.js';
import { weightsHash } from '../hash.js';
import { cachedInt8Models, int8CachePath, writeSidecar } from './cache.js';
import { decodeFolder, openImageFolder, type ImageFolder, type ImageFolderSettings } from './images.js';
import { DEFAULT_QUANTIZE_OPTIONS, META, QUANTIZER_VERSION, UnquantizableModelError, calibrationNote, describeInt8, encodeQuantized, quantizeOnnx, type QuantizeOptions } from './quantize.js';

/** How to get an int8 model: the CLI's --calibrate / --int8-model, and the cache. */
export interface Int8Source {
  calibrate?: string;
  int8Model?: string;
  cacheDir?: string;
}

export interface Int8Subject {
  model: tf.LayersModel;
  /** For messages: the zoo name or model path. */
  name: string;
  /** The layer extract reads by default; always exported so one int8 file serves classify and extract. */
  featureLayer: string | null;
  images: ImageFolderSettings;
  /** For the cache's sidecar (`models info`): where the weights came from. */
  weightsDescription?: string;
  /** The spec fields of the network (src/spec/fingerprint.ts networkFields), recorded in a model made here. */
  source?: Record<string, string>;
}

/** Which int8 model runs: for the run's header and the spec's fingerprint. */
export interface Int8Origin {
  /** The file it was read from or cached at ('(not cached)' without a cache). */
  file: string;
  /** sha256 of its bytes, hex: the int8 model's identity. */
  sha256: string;
  /** Quantized by this run (--calibrate with nothing cached). */
  made: boolean;
  /** How it was calibrated, e.g. "calibrated on 13 images of calib/, percentile 99.999". */
  calibration: string;
}

export interface PreparedInt8 {
  bytes: Uint8Array;
  origin: Int8Origin;
}

function prepared(bytes: Uint8Array, file: string, made: boolean): PreparedInt8 {
  return { bytes, origin: { file, made, sha256: createHash('sha256').update(bytes).digest('hex'), calibration: calibrationNote(describeInt8(bytes)) } };
}

function missingOutputs(outputs: string[], have: string[]): string[] {
  return outputs.filter((o) => !have.includes(o));
}

/** The export's extra outputs: the feature layer, then the ones asked for (model outputs excluded). */
export function int8ExportOutputs(subject: Int8Subject, outputs: string[]): string[] {
  const modelOutputs = subject.model.outputs.map((t) => t.sourceLayer.name);
  const wanted = [...(subject.featureLayer ? [subject.featureLayer] : []), ...outputs];
  return [...new Set(wanted)].filter((o) => !modelOutputs.includes(o));
}

export interface MakeInt8Result {
  bytes: Uint8Array;
  fp32: Uint8Array;
  calibrationImages: number;
  skipped: Array<{ path: string; error: string }>;
  file?: string;
}

/** Quantizes the model on a calibration folder (no cache lookup). */
export async function makeInt8(
  subject: Int8Subject,
  folder: ImageFolder,
  outputs: string[],
  opts: QuantizeOptions,
  weightsHash: string,
): Promise<MakeInt8Result> {
  const { batches, failed } = await decodeFolder(folder, subject.images, 1, '--calibrate');
  for (const f of failed) log.warn(`calibration: skipped ${f.path}: ${f.error}`);
  const fp32 = exportToOnnx(subject.model, { outputs }).bytes;
  async function* iterate() {
    yield* batches;
  }
  const { model, summary } = await quantizeOnnx(fp32, iterate(), opts, {
    [META.weightsHash]: weightsHash,
    [META.calibrationHash]: folder.hash,
    [META.calibration]: JSON.stringify({ dir: folder.dir, images: folder.files.length - failed.length }),
    ...(subject.source ? { [META.source]: JSON.stringify(subject.source) } : {}),
  });
  return { bytes: encodeQuantized(model), fp32, calibrationImages: summary.calibrationImages, skipped: failed };
}

export function int8CacheParts(calibrationHash: string, outputs: string[], opts: QuantizeOptions): unknown {
  const { threads: _threads, cpu: _cpu, ...settings } = opts;
  return { quantizer: QUANTIZER_VERSION, exporter: EXPORTER_VERSION, calibrationHash, outputs, settings };
}

/** The calibration folder, checked to be a readable, non-empty image folder, and hashed. */
export function calibrationFolder(subject: Int8Subject, dir: string): Promise<ImageFolder> {
  return openImageFolder(dir, '--calibrate', subject.images);
}

/** Quantizer failures as user errors naming the model. */
export function asModelError(subject: Int8Subject, e: unknown): unknown {
  return e instanceof UnquantizableModelError ? new BackbonesError('E_MODEL', `${subject.name} cannot be quantized to int8: ${e.message}.`) : e;
}

/**
 * The int8 model exposing `outputs` for this model. Throws BackbonesError E_USAGE when
 * there is nothing to calibrate with, E_MODEL when the model cannot be quantized.
 */
export async function int8ModelFor(subject: Int8Subject, source: Int8Source, outputs: string[], threads: number): Promise<PreparedInt8> {
  if (source.int8Model) {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(source.int8Model);
    } catch (e) {
      throw new BackbonesError('E_USAGE', `--int8-model ${source.int8Model}: cannot read it (${errorMessage(e)}).`);
    }
    let described;
    try {
      described = describeInt8(bytes);
    } catch (e) {
      throw new BackbonesError('E_MODEL', `--int8-model ${source.int8Model} is not an ONNX model (${errorMessage(e)}).`);
    }
    const missing = missingOutputs(outputs, described.outputs);
    if (missing.length > 0) throw missingOutputError(source.int8Model, subject.name, missing, described.outputs);
    // The spec compared what the file says it was made from; its weights hash settles it for older files too.
    if (described.weightsHash !== undefined && described.weightsHash !== (await weightsHash(subject.model))) {
      throw new BackbonesError('E_USAGE', `--int8-model ${source.int8Model} was made from other weights than ${subject.name} has here (${subject.weightsDescription ?? 'these weights'}); quantize this model with \`backbones quantize\`.`);
    }
    return prepared(bytes, source.int8Model, false);
  }
  const exportOutputs = int8ExportOutputs(subject, outputs);
  const wh = await weightsHash(subject.model);
  const opts: QuantizeOptions = { ...DEFAULT_QUANTIZE_OPTIONS, threads };
  if (source.calibrate) {
    const folder = await calibrationFolder(subject, source.calibrate);
    const file = source.cacheDir ? int8CachePath(source.cacheDir, wh, int8CacheParts(folder.hash, exportOutputs, opts)) : undefined;
    if (file && (await cachedFileExists(file))) return prepared(await readFile(file), file, false);
    log.info(`${subject.name}: quantizing to int8, calibrating on ${source.calibrate}…`);
    let made: MakeInt8Result;
    try {
      made = await makeInt8(subject, folder, exportOutputs, opts, wh);
    } catch (e) {
      throw asModelError(subject, e);
    }
    if (file) {
      await writeAtomically(file, made.bytes);
      const described = describeInt8(made.bytes);
      await writeSidecar(file, {
        model: subject.name,
        weights: subject.weightsDescription ?? 'unknown',
        calibration: { dir: source.calibrate, images: made.calibrationImages, hash: folder.hash },
        outputs: [...subject.model.outputs.map((t) => t.sourceLayer.name), ...exportOutputs],
        summary: described.summary,
        encoding: described.encoding,
        createdAt: new Date().toISOString(),
      });
    }
    return prepared(made.bytes, file ?? '(not cached)', true);
  }
  if (source.cacheDir) {
    for (const file of await cachedInt8Models(source.cacheDir, wh)) {
      try {
        const bytes = await readFile(file);
        if (missingOutputs(outputs, describeInt8(bytes).outputs).length === 0) return prepared(bytes, file, false);
      } catch {
        // A damaged cache file is skipped, not fatal.
      }
    }
  }
  throw new BackbonesError(
    'E_USAGE',
    `--precision int8 needs calibration: no int8 model of ${subject.name} is cached${outputs.length ? ` with output ${outputs.join(', ')}` : ''}; pass --calibrate DIR (a folder of representative images) or --int8-model FILE (made by \`backbones quantize\`).`,
  );
}

/** An int8 file without a layer the run reads: say how to make one that has it. */
export function missingOutputError(file: string, model: string, missing: string[], have: string[]): BackbonesError {
  return new BackbonesError(
    'E_USAGE',
    `--int8-model ${file} has no output ${missing.join(', ')} (its outputs: ${have.join(', ')}); make one with \`backbones quantize -m ${model} --calibrate DIR --layer ${missing.join(',')} -o FILE\`.`,
  );
}
