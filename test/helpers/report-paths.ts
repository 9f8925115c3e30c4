// The field paths of a JSON value, as bench/SCHEMA.md names them: `models[].runs[].cpu.cores`
// (array elements share one path; an array of objects is named without its `[]`).
export function fieldPaths(value: unknown, prefix = '', out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) {
    for (const item of value) if (item !== null && typeof item === 'object') fieldPaths(item, `${prefix}[]`, out);
    return out;
  }
  if (value === null || typeof value !== 'object') return out;
  for (const [key, v] of Object.entries(value)) {
    const p = prefix ? `${prefix}.${key}` : key;
    out.add(p);
    fieldPaths(v, p, out);
  }
  return out;
}
