import { BackbonesError } from '../errors.js';

export async function runBench(_inputs: string[], _options: Record<string, unknown>): Promise<number> {
  throw new BackbonesError('E_INTERNAL', '`backbones bench` is not built yet.');
}
