// One error base for everything a user can get wrong (WeightsError, ImageDecodeError
// and OnnxExportError extend it). main() prints its message as
// one line and exits with its code; stacks only with --debug.

export type ErrorCode =
  | 'E_USAGE' // bad option value, unknown command
  | 'E_NOT_FOUND' // missing file or directory
  | 'E_UNKNOWN_MODEL'
  | 'E_BACKEND' // requested backend cannot start
  | 'E_WEIGHTS' // weights missing, offline, checksum, shape mismatch
  | 'E_IMAGE' // unreadable image
  // ImageDecodeError's codes (src/images/decode.ts): why a file gave no pixels.
  | 'E_READ' // the file cannot be read
  | 'E_UNSUPPORTED' // not an image format sharp reads
  | 'E_PIXEL_LIMIT' // larger than limitInputPixels
  | 'E_DECODE' // damaged or truncated
  | 'E_MODEL' // a model file that cannot be loaded or run
  | 'E_LOCKED' // another run is writing the same output file
  | 'E_NO_INPUTS' // the inputs named hold no image to process
  | 'E_REDIS' // Redis unreachable, password refused, connection lost
  | 'E_LISTEN' // serve cannot listen: port in use, no permission, not this machine's address
  | 'E_STORE' // a vector store that cannot be opened or written (no credentials, not a Lance dataset)
  | 'E_INTERNAL';

/** Exit codes, documented in the README. */
export const EXIT = {
  ok: 0,
  error: 1,
  usage: 2,
  /** classify/extract finished but some inputs failed (their records carry "error"). */
  partial: 3,
  /** classify/extract found no image to process (empty folder, no file matching --ext, nothing on stdin). */
  noInputs: 4,
} as const;

/** Codes that mean the user typed a value that cannot work: exit 2, like a bad option. */
const USAGE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['E_USAGE', 'E_UNKNOWN_MODEL', 'E_NOT_FOUND']);

export class BackbonesError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: number;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; exitCode?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BackbonesError';
    this.code = code;
    this.exitCode = options?.exitCode ?? (code === 'E_NO_INPUTS' ? EXIT.noInputs : USAGE_CODES.has(code) ? EXIT.usage : EXIT.error);
  }
}

export function usageError(message: string): BackbonesError {
  return new BackbonesError('E_USAGE', message);
}

/** The message of any thrown value, on one line. */
export function errorMessage(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0]!.trim();
}
