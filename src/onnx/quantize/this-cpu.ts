// An int8 model's weights in the encoding this CPU computes exactly (cpu.ts, mlas.ts):
// applied when a model is made (quantizeOnnx) and, through int8ForThisCpu, to every int8
// model loaded from a file or the cache, which may have been made on another CPU.
import { BackbonesError } from '../../errors.js';
import { describeCpu, schemeFor, thisCpu, type Int8Cpu } from './cpu.js';
import { cannotReencode, reencode, schemeLabel, schemeOf, weightSites, type WeightScheme } from './encoding.js';
import { getMetadata, readModel, setMetadata, writeModel, type QuantModel } from './model.js';

/** Metadata keys for the weight encoding and the CPU it was chosen for (the rest are in quantize.ts META). */
export const ENCODING_META = {
  weights: 'backbones.int8_weights',
  cpu: 'backbones.int8_cpu',
} as const;

/** Why `model` cannot be made exact for `cpu`, or undefined. */
function refusal(model: QuantModel, cpu: Int8Cpu): string | undefined {
  const scheme = schemeFor(cpu);
  return scheme.conv === 'u8' || scheme.depthwise === 'u8' ? cannotReencode(model) : undefined;
}

/** Puts the weights in `cpu`'s scheme and records it, in place. Returns the layers re-encoded. */
export function encodeForCpu(model: QuantModel, cpu: Int8Cpu): string[] {
  const why = refusal(model, cpu);
  if (why) throw new Error(why);
  const changed = reencode(model, schemeFor(cpu));
  const scheme = schemeOf(weightSites(model));
  setMetadata(model, { [ENCODING_META.weights]: JSON.stringify(scheme ?? null), [ENCODING_META.cpu]: JSON.stringify(cpu) });
  return changed;
}

/** What an int8 file says about its weights (undefined fields when absent or unreadable). */
export function encodingMetadata(model: QuantModel): { scheme?: WeightScheme; madeFor?: Int8Cpu } {
  const parse = <T>(key: string): T | undefined => {
    try {
      const v = getMetadata(model, key);
      return v === undefined ? undefined : ((JSON.parse(v) as T | null) ?? undefined);
    } catch {
      return undefined;
    }
  };
  return { scheme: parse<WeightScheme>(ENCODING_META.weights), madeFor: parse<Int8Cpu>(ENCODING_META.cpu) };
}

export interface Int8ForCpu {
  bytes: Uint8Array;
  /** The scheme the weights now follow (undefined: no quantized conv). */
  scheme: WeightScheme | undefined;
  /** One sentence when the weights were re-encoded (for stderr). */
  note?: string;
}

/**
 * The load-time hook: `bytes` as they must run on this CPU (or on `cpu`, injected by
 * tests). Weights already in this CPU's scheme pass unchanged and silently; others are
 * re-encoded losslessly, with one sentence saying so; a model that cannot be made exact
 * here is refused (BackbonesError E_MODEL). `source` names the model in messages.
 */
export async function int8ForThisCpu(bytes: Uint8Array, source: string, cpu?: Int8Cpu): Promise<Int8ForCpu> {
  const target = cpu ?? (await thisCpu());
  const model = readModel(bytes);
  const before = schemeOf(weightSites(model));
  const why = refusal(model, target);
  if (why) throw new BackbonesError('E_MODEL', `${source} cannot run exactly on this CPU, ${describeCpu(target)}: ${why}; quantize it again with \`backbones quantize\`.`);
  const { madeFor } = encodingMetadata(model);
  const changed = encodeForCpu(model, target);
  const scheme = schemeOf(weightSites(model));
  if (changed.length === 0) return { bytes, scheme };
  const from = before ? schemeLabel(before) : 'mixed';
  const made = madeFor ? `made for ${describeCpu(madeFor)}` : 'made without a recorded CPU';
  return {
    bytes: writeModel(model),
    scheme,
    note: `${source} was ${made} with ${from} weights; re-encoded ${changed.length} layers losslessly to ${scheme ? schemeLabel(scheme) : 'mixed'} weights for this CPU, ${describeCpu(target)}.`,
  };
}
