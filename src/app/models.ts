import { BackbonesError } from '../errors.js';
const notYet = () => { throw new BackbonesError('E_INTERNAL', '`backbones models` is not built yet.'); };
export async function runModelsList(_f: string | undefined, _o: Record<string, unknown>): Promise<number> { return notYet(); }
export async function runModelsInfo(_n: string, _o: Record<string, unknown>): Promise<number> { return notYet(); }
export async function runModelsPull(_n: string[], _o: Record<string, unknown>): Promise<number> { return notYet(); }
export async function runModelsPath(_o: Record<string, unknown>): Promise<number> { return notYet(); }
