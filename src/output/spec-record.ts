// What is recorded with every result: the fields of the run spec that change the numbers
// and their fingerprint (computed by src/spec/fingerprint.ts). Outputs and the feature
// store keep it as data and compare it here, naming the fields that differ.

/** Field name → value, in the spec's order. */
export type SpecFields = Record<string, string>;

export interface SpecRecord {
  fingerprint: string;
  fields: SpecFields;
}

/** A spec before the engine has the model: the fields known so far, and those still to come (int8). */
export interface ExpectedSpec {
  fields: SpecFields;
  pending?: readonly string[];
}

/** The fields whose recorded value differs from the current one, as "name recorded → current"; pending fields are skipped. */
export function differences(recorded: SpecFields, current: SpecFields, pending: readonly string[] = []): string[] {
  return [...new Set([...Object.keys(current), ...Object.keys(recorded)])]
    .filter((n) => !pending.includes(n) && recorded[n] !== current[n])
    .map((n) => `${n} ${recorded[n] ?? '(none)'} → ${current[n] ?? '(none)'}`);
}

/** The sidecar that records the spec of an output file: FILE.spec.json. */
export function specSidecar(file: string): string {
  return `${file}.spec.json`;
}
