// One spelling per option (issue 25): walks commander's command tree as buildProgram()
// makes it, so an option added with its own flags, value name, help or default fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Command, Option } from 'commander';
import { buildProgram } from '../src/cli.js';
import { runCli } from './helpers/cli.js';

interface Use {
  command: string;
  option: Option;
}

function commandsOf(cmd: Command, prefix = ''): { path: string; cmd: Command }[] {
  return cmd.commands.flatMap((sub) => {
    const p = (prefix ? prefix + ' ' : '') + sub.name();
    return [{ path: p, cmd: sub }, ...commandsOf(sub, p)];
  });
}

const program = buildProgram();
const commands = commandsOf(program);
/** Commands that do something (a group such as `queue` only holds others). */
const leaves = commands.filter((c) => c.cmd.commands.length === 0);
const uses: Use[] = commands.flatMap(({ path, cmd }) => cmd.options.map((option) => ({ command: path, option })));
const byName = new Map<string, Use[]>();
for (const u of uses) byName.set(u.option.long!, [...(byName.get(u.option.long!) ?? []), u]);

/**
 * Options whose help or default says what the option does for its command, and why. Their
 * flags and value name are still the same everywhere. Keys: "--long" for every command, or
 * "command --long" for one.
 */
const PER_COMMAND: Record<string, string> = {
  '--format': "each command writes its own formats (the help still reads 'output format (default: …)', checked below)",
  '--output': 'what is written differs: results, a bench report, a quantized model',
  '--top-k': 'labels per image (classify) or results per query (search)',
  '--layer': 'the layer read (extract, queue add), read by default (serve), kept as outputs (quantize), or that made the vectors (store import)',
  '--overwrite': "what it replaces: feature store keys and --resume files, or also a queue's jobs",
  'bench --model': 'bench compares several models: repeatable, no default of its own (without any, vgg16 and mobilenet)',
  'quantize --precision': 'what quantize makes (int8 or fp16) from the fp32 it starts with',
  'store import --to': 'only a LanceDB store: store import writes no Redis',
  'store import --pool': 'describes how the imported vectors were made',
  'store import --l2': 'describes how the imported vectors were made',
};

const shown = (o: Option) => JSON.stringify({ description: o.description, default: o.defaultValue, choices: o.argChoices });

test('the walk sees every command and its options', () => {
  for (const name of ['classify', 'extract', 'bench', 'quantize', 'serve', 'models info', 'queue add', 'worker', 'store import', 'doctor']) {
    assert.ok(commands.some((c) => c.path === name), `${name} is in the tree`);
  }
  assert.ok(uses.length > 150, `${uses.length} option uses`);
});

test('an option is spelled the same everywhere: short flag, long flag and value name', () => {
  const differing = [...byName].filter(([, us]) => new Set(us.map((u) => u.option.flags)).size > 1);
  assert.deepEqual(
    differing.map(([name, us]) => `${name}: ${us.map((u) => `${u.command}: ${u.option.flags}`).join(' | ')}`),
    [],
  );
  // A short flag means one long option.
  const shorts = new Map<string, Set<string>>();
  for (const u of uses) if (u.option.short) shorts.set(u.option.short, (shorts.get(u.option.short) ?? new Set()).add(u.option.long!));
  assert.deepEqual([...shorts].filter(([, longs]) => longs.size > 1).map(([s, longs]) => `${s}: ${[...longs].join(', ')}`), []);
});

test('an option has the same help, default and choices everywhere, but where its meaning is per command (listed with why)', () => {
  const differing: string[] = [];
  for (const [name, us] of byName) {
    if (name in PER_COMMAND) continue;
    const shared = us.filter((u) => !(`${u.command} ${name}` in PER_COMMAND));
    const variants = new Map<string, string[]>();
    for (const u of shared) variants.set(shown(u.option), [...(variants.get(shown(u.option)) ?? []), u.command]);
    if (variants.size > 1) differing.push(`${name}: ${[...variants].map(([v, cs]) => `${cs.join(',')} ${v}`).join(' | ')}`);
  }
  assert.deepEqual(differing, []);
  // An exception that no longer applies goes too.
  const stale = Object.keys(PER_COMMAND).filter((key) => {
    const [cmd, name] = key.startsWith('--') ? [undefined, key] : [key.slice(0, key.lastIndexOf(' ')), key.slice(key.lastIndexOf(' ') + 1)];
    return !uses.some((u) => u.option.long === name && (cmd === undefined || u.command === cmd));
  });
  assert.deepEqual(stale, []);
});

test('-f/--format is the one output-format option: json everywhere a command prints data, its default said in its help', () => {
  for (const u of byName.get('--format') ?? []) {
    assert.equal(u.option.flags, '-f, --format <format>', u.command);
    assert.match(u.option.description, /^output format \(default: [^)]+\)/, `${u.command}: ${u.option.description}`);
    // Defaults depend on the terminal or the -o extension: decided when the command runs.
    assert.equal(u.option.defaultValue, undefined, `${u.command} --format has no commander default`);
  }
  const withFormat = new Set((byName.get('--format') ?? []).map((u) => u.command));
  for (const name of ['classify', 'bench', 'quantize', 'search', 'dedup', 'models list', 'models info', 'models pull', 'models path', 'doctor', 'queue status', 'queue add']) {
    assert.ok(withFormat.has(name), `${name} has -f/--format`);
    const u = byName.get('--format')!.find((x) => x.command === name)!;
    assert.ok(u.option.argChoices?.includes('json'), `${name} --format json`);
  }
  // --json survives only as a hidden alias of --format json.
  for (const u of byName.get('--json') ?? []) {
    assert.ok(u.option.hidden, `${u.command}: --json is not in --help`);
    assert.ok(withFormat.has(u.command), `${u.command}: --json beside --format`);
  }
});

test('-m/--model wherever a command runs one model; no command takes it as an argument', () => {
  const args = leaves.flatMap(({ path, cmd }) => cmd.registeredArguments.filter((a) => /^model$/.test(a.name())).map(() => path));
  assert.deepEqual(args, [], 'the model is -m, not an argument');
  for (const { path, cmd } of leaves) {
    const takesModel = cmd.options.some((o) => o.long === '--weights' || o.long === '--preprocess');
    const hasM = cmd.options.some((o) => o.long === '--model');
    // models info describes the one it names.
    if (takesModel && path !== 'models info') assert.ok(hasM, `${path} has -m/--model`);
  }
  for (const name of ['classify', 'extract', 'bench', 'quantize', 'serve', 'queue add', 'dedup', 'store import']) {
    assert.ok(byName.get('--model')!.some((u) => u.command === name), `${name} -m`);
  }
});

test('options only where they do something: --labels and --label-offset where labels are printed', () => {
  for (const name of ['--labels', '--label-offset']) {
    assert.deepEqual(byName.get(name)!.map((u) => u.command).sort(), ['classify', 'serve'], name);
  }
  // models info lists layers from random weights: -w and --seed change nothing there.
  const info = leaves.find((c) => c.path === 'models info')!.cmd;
  assert.deepEqual(info.options.filter((o) => o.long === '--weights' || o.long === '--seed'), []);
});

test('the global help says what --backend picks and where the cache is', () => {
  const g = (long: string) => program.options.find((o) => o.long === long)!.description;
  assert.match(g('--backend'), /ONNX Runtime/);
  assert.match(g('--backend'), /TensorFlow\.js/);
  assert.match(g('--cache-dir'), /\$BACKBONES_CACHE.*\$XDG_CACHE_HOME\/backbones.*~\/\.cache\/backbones/);
  // No subcommand reuses a global option's name for something else.
  const globals = new Set(program.options.map((o) => o.long));
  assert.deepEqual(uses.filter((u) => globals.has(u.option.long)).map((u) => `${u.command} ${u.option.long}`), []);
});

test('the built CLI: quantize -m, --format json on models and doctor, --json still works, the old spellings are refused', async () => {
  const [quantize, positional, models, alias, doctor, labels] = await Promise.all([
    runCli(['quantize', '-m', 'mobilenet_0.25']),
    runCli(['quantize', 'mobilenet_0.25', '--calibrate', 'x']),
    runCli(['models', 'list', 'mobilenet_v?', '--format', 'json']),
    runCli(['models', 'list', 'mobilenet_v?', '--json']),
    runCli(['doctor', '-f', 'json']),
    runCli(['extract', 'x.jpg', '--labels', 'labels.txt']),
  ]);
  // -m is taken; what stops it is the missing calibration, said before anything loads.
  assert.equal(quantize.code, 2, quantize.stderr);
  assert.match(quantize.stderr, /needs --calibrate DIR/);
  assert.equal(positional.code, 2);
  assert.match(positional.stderr, /too many arguments/);
  assert.equal(models.code, 0, models.stderr);
  assert.deepEqual(JSON.parse(models.stdout).map((m: { name: string }) => m.name), ['mobilenet_v2']);
  assert.equal(alias.stdout, models.stdout);
  assert.equal(doctor.code, 0, doctor.stderr);
  assert.ok(Array.isArray(JSON.parse(doctor.stdout).backends));
  assert.equal(labels.code, 2);
  assert.match(labels.stderr, /unknown option '--labels'/);
});

test('bench -m: repeatable, the same as naming the models as arguments', async () => {
  const [flags, both] = await Promise.all([
    runCli(['bench', '-m', 'mobilenet_0.25', '-m', 'nosuch_model', '-f', 'json']),
    runCli(['bench', 'mobilenet_0.25', '-m', 'nosuch_model', '-f', 'json']),
  ]);
  for (const r of [flags, both]) {
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /nosuch_model/);
    assert.doesNotMatch(r.stderr, /unknown option/);
  }
});
