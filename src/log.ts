// Everything that is not data goes to stderr through here. Colour follows the TTY,
// NO_COLOR and FORCE_COLOR; --quiet silences info/progress, never errors.
import chalk, { Chalk, type ChalkInstance } from 'chalk';

export interface LogSettings {
  quiet: boolean;
  debug: boolean;
  /** Start each line with the ISO 8601 time (a long-running queue worker's log must place a stall or a takeover in time). */
  timestamps: boolean;
}

const settings: LogSettings = { quiet: false, debug: false, timestamps: false };

/** Colour level for a stream: FORCE_COLOR wins, then NO_COLOR, then whether it is a TTY. */
export function colorLevelFor(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): 0 | 1 | 2 | 3 {
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== '' ) {
    if (force === '0' || force === 'false') return 0;
    const n = Number(force);
    return (n >= 1 && n <= 3 ? n : 1) as 1 | 2 | 3;
  }
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return 0;
  if (!stream.isTTY) return 0;
  return Math.max(1, chalk.level) as 1 | 2 | 3;
}

/** Chalk for data written to stdout (tables). */
export let out: ChalkInstance = new Chalk({ level: colorLevelFor(process.stdout) });
/** Chalk for messages on stderr. */
export let err: ChalkInstance = new Chalk({ level: colorLevelFor(process.stderr) });

export function configureLog(next: Partial<LogSettings>): void {
  Object.assign(settings, next);
  out = new Chalk({ level: colorLevelFor(process.stdout) });
  err = new Chalk({ level: colorLevelFor(process.stderr) });
}

export function isQuiet(): boolean {
  return settings.quiet;
}
export function isDebug(): boolean {
  return settings.debug;
}

/** Progress bars only on an interactive stderr, never with --quiet or NO_COLOR (bars are decoration too). */
export function progressEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const noColor = env.NO_COLOR !== undefined && env.NO_COLOR !== '';
  return !settings.quiet && Boolean(process.stderr.isTTY) && !noColor;
}

/** Wraps every line written to stderr while a progress bar shows (it clears the bar first, redraws it after). */
type Interrupter = (print: () => void) => void;
let interrupter: Interrupter | null = null;

export function setStderrInterrupter(next: Interrupter | null): void {
  interrupter = next;
}

function emit(text: string): void {
  const line = settings.timestamps ? `${new Date().toISOString()} ${text}` : text;
  const print = () => void process.stderr.write(line);
  if (interrupter) interrupter(print);
  else print();
}

export const log = {
  info(message: string): void {
    if (!settings.quiet) emit(message + '\n');
  },
  /** evenQuiet: a warning that explains a non-zero exit code, shown with --quiet too. */
  warn(message: string, options: { evenQuiet?: boolean } = {}): void {
    if (!settings.quiet || options.evenQuiet) emit(err.yellow('Warning: ') + message + '\n');
  },
  error(message: string): void {
    emit(err.red('Error: ') + message + '\n');
  },
  debug(message: string): void {
    if (settings.debug) emit(err.gray('debug: ' + message) + '\n');
  },
};

/** "path: message" for a failed input, without naming the path twice when the message already does. */
export function aboutInput(path: string, message: string): string {
  return message.includes(path) ? message : `${path}: ${message}`;
}

/** "1 image", "2 images": counts in messages. */
export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
