import { BackbonesError } from '../errors.js';

export async function runClassify(_inputs: string[], _options: Record<string, unknown>): Promise<number> {
  throw new BackbonesError('E_INTERNAL', '`backbones classify` is not built yet.');
}
