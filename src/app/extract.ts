import { BackbonesError } from '../errors.js';

export async function runExtract(_inputs: string[], _options: Record<string, unknown>): Promise<number> {
  throw new BackbonesError('E_INTERNAL', '`backbones extract` is not built yet.');
}
