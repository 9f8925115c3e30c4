// Writes bench/SCHEMA.md from the types of the `backbones bench` JSON report: every
// field table comes from the property names, types and doc comments of the interfaces
// (src/measure/result.ts and the types it uses); the prose around the tables is below.
// A field added to the types appears in the page by running this again, and
// test/bench-schema.test.ts fails while the page is out of date.
//
//   npm run schema            rewrites bench/SCHEMA.md
//   npx tsx bench/schema.ts --check   exits 1 when bench/SCHEMA.md is out of date
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Where the bench code lives (the report's types, exporters, statistics). */
const BENCH_SRC = 'src/measure';
const RESULT_FILE = `${BENCH_SRC}/result.ts`;
export const SCHEMA_FILE = path.join(ROOT, 'bench', 'SCHEMA.md');

interface Row {
  field: string;
  type: string;
  meaning: string;
  /** Where the field is declared (its doc comment is the meaning). */
  declaration: ts.PropertySignature;
}

export class SchemaReader {
  private readonly program: ts.Program;
  private readonly checker: ts.TypeChecker;

  constructor() {
    const config = ts.getParsedCommandLineOfConfigFile(path.join(ROOT, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
    this.program = ts.createProgram([path.join(ROOT, RESULT_FILE)], { ...(config?.options ?? {}), noEmit: true });
    this.checker = this.program.getTypeChecker();
  }

  /** The declaration of an exported type anywhere in the program. */
  declaration(name: string): ts.InterfaceDeclaration | ts.TypeAliasDeclaration {
    for (const file of this.program.getSourceFiles()) {
      if (file.isDeclarationFile) continue;
      for (const s of file.statements) {
        if ((ts.isInterfaceDeclaration(s) || ts.isTypeAliasDeclaration(s)) && s.name.text === name) return s;
      }
    }
    throw new Error(`bench/schema.ts: no type ${name} in the program`);
  }

  /** The file (relative to the repository) that declares a type. */
  fileOf(name: string): string {
    return path.relative(ROOT, this.declaration(name).getSourceFile().fileName);
  }

  /** The value of a numeric constant (BENCH_SCHEMA_VERSION). */
  constant(name: string): string {
    for (const file of this.program.getSourceFiles()) {
      if (file.isDeclarationFile) continue;
      for (const s of file.statements) {
        if (!ts.isVariableStatement(s)) continue;
        for (const d of s.declarationList.declarations) if (ts.isIdentifier(d.name) && d.name.text === name && d.initializer) return d.initializer.getText();
      }
    }
    throw new Error(`bench/schema.ts: no constant ${name}`);
  }

  /** The property names of an interface, in declaration order. */
  propertyNames(name: string): string[] {
    return this.checker.getTypeAtLocation(this.declaration(name)).getProperties().map((p) => p.name);
  }

  /** One row per field of an interface, nested objects flattened (`cpu.cores`, `gpus[].name`); `inline` types are flattened too. */
  rows(name: string, inline: readonly string[] = []): Row[] {
    const type = this.checker.getTypeAtLocation(this.declaration(name));
    return this.rowsOf(type.getProperties(), '', inline);
  }

  private doc(symbol: ts.Symbol): string {
    return ts.displayPartsToString(symbol.getDocumentationComment(this.checker)).replace(/\s*\n\s*/g, ' ').trim();
  }

  private rowsOf(members: readonly ts.Symbol[], prefix: string, inline: readonly string[]): Row[] {
    const rows: Row[] = [];
    for (const symbol of members) {
      const decl = symbol.valueDeclaration;
      if (!decl || !ts.isPropertySignature(decl) || !decl.type) throw new Error(`bench/schema.ts: ${prefix}${symbol.name} is not a typed property`);
      const field = `${prefix}${symbol.name}`;
      const { text, nested, nestedPrefix } = this.describe(decl.type, field, inline);
      // An array of objects reads `gpus[]`, its fields `gpus[].name`.
      rows.push({ field: text === 'array' ? `${field}[]` : field, type: text + (decl.questionToken ? ', optional' : ''), meaning: this.doc(symbol), declaration: decl });
      if (nested) rows.push(...this.rowsOf(nested, nestedPrefix!, inline));
    }
    return rows;
  }

  private objectProperties(node: ts.TypeNode): readonly ts.Symbol[] {
    return this.checker.getTypeFromTypeNode(node).getProperties();
  }

  /** How a field's type reads in the table, and the fields of a nested object. */
  private describe(node: ts.TypeNode, field: string, inline: readonly string[]): { text: string; nested?: readonly ts.Symbol[]; nestedPrefix?: string } {
    if (ts.isParenthesizedTypeNode(node)) return this.describe(node.type, field, inline);
    if (ts.isTypeLiteralNode(node)) return { text: 'object', nested: this.objectProperties(node), nestedPrefix: `${field}.` };
    if (ts.isArrayTypeNode(node)) {
      if (ts.isTypeLiteralNode(node.elementType)) return { text: 'array', nested: this.objectProperties(node.elementType), nestedPrefix: `${field}[].` };
      const inner = this.simple(node.elementType);
      return { text: inner.startsWith('`') ? `\`${inner.slice(1, -1)}[]\`` : `${inner}[]` };
    }
    if (ts.isTypeReferenceNode(node) && inline.includes(node.typeName.getText())) {
      return { text: 'object', nested: this.objectProperties(node), nestedPrefix: `${field}.` };
    }
    if (ts.isIndexedAccessTypeNode(node)) {
      const props = this.objectProperties(node);
      if (props.length > 0) return { text: 'object', nested: props, nestedPrefix: `${field}.` };
    }
    return { text: this.simple(node) };
  }

  private simple(node: ts.TypeNode): string {
    if (ts.isParenthesizedTypeNode(node)) return this.simple(node.type);
    switch (node.kind) {
      case ts.SyntaxKind.StringKeyword:
        return 'string';
      case ts.SyntaxKind.NumberKeyword:
        return 'number';
      case ts.SyntaxKind.BooleanKeyword:
        return 'boolean';
    }
    if (ts.isLiteralTypeNode(node)) {
      if (node.literal.kind === ts.SyntaxKind.NullKeyword) return 'null';
      if (ts.isStringLiteral(node.literal)) return `\`"${node.literal.text}"\``;
      return `\`${node.literal.getText()}\``;
    }
    // `string & {}`: any string (the literals beside it are only suggestions).
    if (ts.isIntersectionTypeNode(node) && node.types.some((t) => t.kind === ts.SyntaxKind.StringKeyword)) return 'string';
    if (ts.isUnionTypeNode(node)) {
      const parts = node.types.map((t) => this.simple(t));
      // Suggested literals beside any string read as "string".
      const anyString = parts.includes('string');
      return [...new Set(parts.filter((p) => !(anyString && p.startsWith('`"'))))].join(' | ');
    }
    if (ts.isTypeQueryNode(node)) {
      const t = this.checker.getTypeFromTypeNode(node);
      if (t.isLiteral()) return `\`${JSON.stringify(t.value)}\``;
    }
    if (ts.isTypeReferenceNode(node)) {
      // A named union of string literals (Precision, from its table): its values, as written inline.
      const t = this.checker.getTypeFromTypeNode(node);
      if (t.isUnion() && t.types.every((m) => m.isStringLiteral())) return t.types.map((m) => `\`"${(m as ts.StringLiteralType).value}"\``).join(' | ');
      return `\`${node.typeName.getText()}\``;
    }
    throw new Error(`bench/schema.ts: cannot describe the type ${node.getText()}`);
  }

  /** The members of a tagged union (BenchWarning): kind, the other fields, and the member's doc comment. */
  unionMembers(name: string): { kind: string; fields: string[]; doc: string }[] {
    const decl = this.declaration(name);
    if (!ts.isTypeAliasDeclaration(decl) || !ts.isUnionTypeNode(decl.type)) throw new Error(`bench/schema.ts: ${name} is not a union`);
    const text = decl.getSourceFile().getFullText();
    return decl.type.types.map((member, i, all) => {
      if (!ts.isTypeLiteralNode(member)) throw new Error(`bench/schema.ts: a member of ${name} is not an object type`);
      // The comment sits before the member's `|`: in the trivia after the previous member (or after `=`).
      const from = i === 0 ? (decl.type as ts.UnionTypeNode).pos : all[i - 1]!.end;
      const comments = (ts.getLeadingCommentRanges(text, from) ?? []).filter((c) => text.startsWith('/**', c.pos));
      const last = comments[comments.length - 1];
      const doc = last ? text.slice(last.pos + 3, last.end - 2).replace(/\n\s*\*/g, ' ').replace(/\s+/g, ' ').trim() : '';
      let kind = '';
      const fields: string[] = [];
      for (const m of member.members) {
        if (!ts.isPropertySignature(m) || !ts.isIdentifier(m.name)) continue;
        if (m.name.text === 'kind' && m.type && ts.isLiteralTypeNode(m.type) && ts.isStringLiteral(m.type.literal)) kind = m.type.literal.text;
        else fields.push(m.name.text);
      }
      return { kind, fields, doc };
    });
  }
}

const cell = (s: string) => s.replace(/\|/g, '\\|');

function table(rows: Row[]): string {
  const lines = ['| field | type | meaning |', '| --- | --- | --- |'];
  for (const r of rows) {
    if (!r.meaning) throw new Error(`bench/schema.ts: ${r.field} has no doc comment; document it in the type`);
    lines.push(`| \`${r.field}\` | ${cell(r.type)} | ${cell(r.meaning)} |`);
  }
  return lines.join('\n');
}

function warningsTable(reader: SchemaReader): string {
  const lines = ['| `kind` | extra fields | raised when | hint |', '| --- | --- | --- | --- |'];
  for (const w of reader.unionMembers('BenchWarning')) {
    const m = w.doc.match(/^Raised when (.+); hint: (.+?)\.?$/);
    if (!m) throw new Error(`bench/schema.ts: the comment of BenchWarning '${w.kind}' must read "Raised when …; hint: …"`);
    lines.push(`| \`${w.kind}\` | ${w.fields.map((f) => `\`${f}\``).join(', ')} | ${cell(m[1]!)} | ${cell(m[2]!)} |`);
  }
  return lines.join('\n');
}

/** The latency summary's fields as one sentence, with the two that need a word. */
function latencyFields(reader: SchemaReader): string {
  const notes: Record<string, string> = { std: ' (sample standard deviation, divides by n − 1; 0 for one\nsample)', median: ' (= `p50`)' };
  const names = reader.propertyNames('LatencySummary');
  return names.map((n) => `\`${n}\`${notes[n] ?? ''}`).join(', ');
}

/**
 * Every field the page documents, as a path into the JSON report (`models[].runs[].cpu.cores`;
 * an array of objects without its trailing `[]`): what a real report's fields are checked against.
 */
export function documentedPaths(): Set<string> {
  const r = new SchemaReader();
  const paths = new Set<string>();
  const add = (prefix: string, fields: string[]) => {
    for (const f of fields) paths.add(`${prefix}${f}`.replace(/\[\]$/, ''));
  };
  const sections: [string, string, string[]?][] = [
    ['', 'BenchReport'],
    ['machine.', 'MachineSection'],
    ['runtime.', 'RuntimeSection'],
    ['settings.', 'BenchSettings'],
    ['models[].', 'ModelResult'],
    ['models[].runs[].', 'BatchResult', ['EndToEndResult']],
    ['models[].runs[].gpu.', 'GpuSummary'],
  ];
  for (const [prefix, type, inline] of sections) add(prefix, r.rows(type, inline).map((row) => row.field));
  add('models[].runs[].latencyMs.', r.propertyNames('LatencySummary'));
  for (const w of r.unionMembers('BenchWarning')) {
    for (const prefix of ['models[].warnings[].', 'models[].runs[].warnings[].']) add(prefix, ['kind', ...w.fields]);
  }
  return paths;
}

/** The whole page. */
export function renderSchema(): string {
  const r = new SchemaReader();
  const version = r.constant('BENCH_SCHEMA_VERSION');
  return `<!-- Generated by \`npm run schema\` (bench/schema.ts) from the types in ${RESULT_FILE}; do not edit by hand. -->
# \`backbones bench\` JSON report — schema version ${version}

The JSON export of \`backbones bench\` (\`${BENCH_SRC}/export/json.ts\`) is one \`BenchReport\` object,
pretty-printed. The TypeScript types in \`${RESULT_FILE}\` are the source of truth;
this page is generated from them field by field (\`npm run schema\`), and a test fails when it is out of date.

Conventions:

- **Units are in the names**: \`…Ms\` milliseconds, \`…S\` seconds, \`…Byte\` bytes (not KiB/MiB),
  \`…Percent\` percent, \`…PerSecond\` rates.
- **Raw samples are kept** (\`samplesMs\`), so any statistic can be recomputed later.
- **\`null\` means "not measured"** (shown as \`n/a\` by the other exporters). A measured zero is \`0\`.
  No field ever holds an invented number.
- **Versioning**: \`schemaVersion\` is bumped when a field is renamed or removed, or its unit or
  meaning changes. New fields may appear within a version; readers should ignore unknown fields.

## Top level: \`BenchReport\`

${table(r.rows('BenchReport'))}

## \`machine\`

${table(r.rows('MachineSection'))}

## \`runtime\`

${table(r.rows('RuntimeSection'))}

## \`settings\`

${table(r.rows('BenchSettings'))}

## \`models[]\`: \`ModelResult\`

${table(r.rows('ModelResult'))}

## \`models[].runs[]\`: \`BatchResult\`

${table(r.rows('BatchResult', ['EndToEndResult']))}

### \`latencyMs\` (\`${r.fileOf('LatencySummary')}\`)

${latencyFields(r)}, all in ms.

Percentiles interpolate linearly between the closest ranks, like numpy's default
(\`np.percentile(x, p)\`, method \`'linear'\`, Hyndman & Fan type 7): on the ascending samples,
\`rank = p/100 × (n − 1)\`, \`value = x[⌊rank⌋] + (rank − ⌊rank⌋) × (x[⌈rank⌉] − x[⌊rank⌋])\`.
Example: for 1…10, p50 = 5.5 and p90 = 9.1. With fewer than ~100 samples p99 is close to \`max\`.

### \`gpu\`: \`GpuSummary\` (\`${r.fileOf('GpuSummary')}\`)

Polled with \`nvidia-smi --query-gpu=index,name,driver_version,memory.total,memory.used,utilization.gpu\`
and \`--query-compute-apps=pid,used_memory\` (\`--format=csv,noheader,nounits\`; MiB → bytes ×
1048576), one poll at a time, \`settings.gpuPollMs\` between polls. Device figures are summed
over all GPUs nvidia-smi lists; utilisation is that of the busiest GPU. Any field is \`null\` when
nvidia-smi reported \`[N/A]\` / \`[Not Supported]\`.

${table(r.rows('GpuSummary'))}

## Warnings: \`BenchWarning\`

A tagged union on \`kind\` (\`${r.fileOf('BenchWarning')}\`); \`warningMessage(w)\` turns one into a sentence with a hint.
Timed-run warnings follow hyperfine: a modified z-score on the MAD (\`${BENCH_SRC}/outliers.ts\`),
outlier when |z| > \`1.4826 × 10\`.

${warningsTable(r)}
`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const text = renderSchema();
  if (process.argv.includes('--check')) {
    if (readFileSync(SCHEMA_FILE, 'utf8') !== text) {
      process.stderr.write('bench/SCHEMA.md is out of date with the types: run `npm run schema`.\n');
      process.exit(1);
    }
  } else {
    writeFileSync(SCHEMA_FILE, text);
    process.stderr.write(`wrote ${path.relative(process.cwd(), SCHEMA_FILE)}\n`);
  }
}
