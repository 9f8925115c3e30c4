// Option parsers and option groups shared by several subcommands. Every parser
// throws a usage error that names the flag and, where it helps, the valid values.
import { Option, type Command } from 'commander';
import { usageError } from '../errors.js';
import { PREPROCESS_MODES, type PreprocessMode } from '../images/preprocess.js';
import { INTERPOLATIONS, RESIZE_MODES } from '../images/resize.js';
import { PRECISION_TABLE, PRECISIONS } from '../onnx/precision.js';
import { POOLINGS } from '../zoo/card.js';

export function parsePositiveInt(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw usageError(`${flag} must be a positive integer. Received: ${value}`);
    return n;
  };
}

export function parseNonNegativeInt(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw usageError(`${flag} must be a non-negative integer. Received: ${value}`);
    return n;
  };
}

export function parsePositiveNumber(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw usageError(`${flag} must be a positive number. Received: ${value}`);
    return n;
  };
}

export function parseIntList(flag: string) {
  return (value: string): number[] => value.split(',').map((v) => parsePositiveInt(flag)(v.trim()));
}

/** "224" or "224x224" or "224,224" → [h, w]. */
export function parseSize(value: string): [number, number] {
  const parts = value.split(/[x,]/i).map((v) => Number(v.trim()));
  const ok = parts.every((n) => Number.isInteger(n) && n >= 16 && n <= 4096);
  if (!ok || parts.length < 1 || parts.length > 2) {
    throw usageError(`--input-size must be N or HxW with 16 <= N <= 4096. Received: ${value}`);
  }
  return parts.length === 1 ? [parts[0]!, parts[0]!] : [parts[0]!, parts[1]!];
}

export function parsePreprocess(value: string): PreprocessMode {
  if ((PREPROCESS_MODES as readonly string[]).includes(value)) return value as PreprocessMode;
  throw usageError(`Unknown --preprocess "${value}": valid modes are ${PREPROCESS_MODES.join(', ')}.`);
}

/**
 * Options that choose and load a model, each only where it does something: -m where the
 * command runs one model (bench takes several as arguments, models info one), -w/--seed
 * where weights load, --labels/--label-offset where labels are printed (classify, serve).
 */
export function addModelOptions(cmd: Command, opts: { model?: boolean; weights?: boolean; labels?: boolean } = {}): Command {
  if (opts.model !== false) {
    cmd.option('-m, --model <name|path>', 'zoo name (see `backbones models list`) or a TF.js model.json path/URL', 'mobilenet');
  }
  if (opts.weights !== false) {
    cmd.option('-w, --weights <imagenet|random|path|url>', 'weights: imagenet (cache/download), random (seeded), or a Keras .h5 / TF.js model.json', 'imagenet');
  }
  cmd
    .option('--alpha <n>', 'MobileNet width multiplier (v1: 0.25, 0.5, 0.75, 1.0; v2: 0.35 … 1.4)', parsePositiveNumber('--alpha'))
    .option('--input-size <n|HxW>', 'input size when the model or card does not fix it', parseSize)
    .option('--preprocess <mode>', `override preprocessing: ${PREPROCESS_MODES.join(', ')}`, parsePreprocess);
  if (opts.labels) {
    cmd
      .option('--labels <file>', 'class labels: JSON array, Keras class-index JSON, or one label per line')
      .option('--label-offset <n>', 'leading outputs to drop before labels (1 for 1001-class graph models)', parseNonNegativeInt('--label-offset'));
  }
  if (opts.weights !== false) cmd.option('--seed <n>', 'seed for --weights random', parseNonNegativeInt('--seed'), 42);
  return cmd;
}

export function choiceOption(flags: string, description: string, choices: readonly string[], defaultValue?: string): Option {
  const o = new Option(flags, description).choices(choices as string[]);
  return defaultValue === undefined ? o : o.default(defaultValue);
}

/** How an image reaches the model's input: shared by classify, extract, queue add and serve. */
export function addImageHandlingOptions(cmd: Command): Command {
  return cmd
    .addOption(choiceOption('--resize <mode>', 'how images reach the input size (default: the model card\'s, squash for the zoo)', RESIZE_MODES))
    .addOption(choiceOption('--interpolation <kind>', 'resampling kernel (default: the model card\'s, bilinear = TensorFlow\'s resize)', INTERPOLATIONS))
    .option('--background <colour>', 'colour that transparent pixels are flattened onto', 'white')
    .option('--keras-compat', 'reproduce Keras image.load_img(target_size=…) exactly: nearest, squash, no EXIF rotation');
}

/** Which files of a directory are images: classify, extract and queue add. */
export function addExtensionOption(cmd: Command): Command {
  return cmd.option('--ext <list>', 'extensions to take from directories (comma-separated)', 'jpg,jpeg,png,webp,gif,tif,tiff,bmp,avif');
}

/**
 * -f/--format for a command that prints text for people or one JSON document; --json is
 * kept, hidden, as an alias of --format json (models and doctor had it before --format).
 */
export function addTextOrJsonFormat(cmd: Command, people: 'table' | 'text', opts: { jsonAlias?: boolean } = {}): Command {
  cmd.addOption(choiceOption('-f, --format <format>', `output format (default: ${people})`, [people, 'json']));
  if (opts.jsonAlias) cmd.addOption(new Option('--json', 'the same as --format json').hideHelp().implies({ format: 'json' }));
  return cmd;
}

/** --layer, --pool, --l2: which vector extract and queue add make. */
export function addFeatureOptions(cmd: Command): Command {
  return cmd
    .option('-l, --layer <name>', "layer to read (default: the model card's feature layer, e.g. vgg16 fc2)")
    .addOption(choiceOption('--pool <kind>', 'reduce spatial layers [h,w,c] to [c]', POOLINGS, 'none'))
    .option('--l2', 'L2-normalise each vector');
}

/** -b/--batch-size: every command that runs images through a model. */
export function batchSizeOption(): Option {
  return new Option('-b, --batch-size <n>', 'images per inference batch').argParser(parsePositiveInt('--batch-size')).default(8);
}

/** --in: the vector store that search and dedup read. */
export function vectorStoreInOption(): Option {
  return new Option('--in <store>', 'the vector store: PATH.lance (or s3://, gs://, az:// …/NAME.lance), written by extract --to or store import');
}

/** Inputs, decoding and batching: shared by classify and extract. */
export function addImageOptions(cmd: Command): Command {
  return addImageHandlingOptions(addExtensionOption(cmd))
    .addOption(batchSizeOption())
    .option('--workers <n>', 'model threads, each with its own backend and model copy (for single-threaded backends such as wasm)', parsePositiveInt('--workers'), 1)
    .option('-o, --output <file>', 'write results to a file instead of stdout')
    .option('--resume', 'with -o (jsonl, csv, npy, parquet) or --to: skip inputs already in the output (or the .partial file a killed run left) and append the rest');
}

/** --calibrate: the same option for a run and for quantize. */
export function calibrateOption(): Option {
  return new Option('--calibrate <dir>', 'int8: folder of representative images to calibrate activation ranges on (the result is cached; a few hundred are plenty, tens work)');
}

/**
 * --precision and where an int8 model comes from: classify, extract and bench (and any
 * other command that runs a model on the onnx engine). --calibrate or --int8-model
 * alone imply --precision int8.
 */
export function addPrecisionOptions(cmd: Command): Command {
  return cmd
    .addOption(choiceOption('--precision <p>', PRECISION_TABLE.map((r) => `${r.name}: ${r.summary}`).join('; '), PRECISIONS))
    .addOption(calibrateOption())
    .option('--int8-model <file>', 'int8: a model written by `backbones quantize -o`');
}
