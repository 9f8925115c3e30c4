// What one engine file exports for its row in backends.ts.
import type { BackendChoice, BackendProbe, Device, Engine, EngineDeps, EngineRequest } from './types.js';

export interface StartContext {
  /** The device this attempt is for. */
  device: Device;
  request: EngineRequest;
  deps: EngineDeps;
}

/** How an engine describes itself once started; select.ts adds the request, reason and attempts. */
export type EngineDetails = Omit<BackendChoice, 'requested' | 'deviceRequested' | 'reason' | 'attempts' | 'tfjsVersion' | 'tfjsBackend'>;

export type StartResult =
  | { ok: true; probe: BackendProbe; details: EngineDetails }
  /** permanent: the package cannot load at all, so trying it for another device is pointless. */
  | { ok: false; probe: BackendProbe; permanent: boolean };

export interface EngineFamily {
  /** Makes the engine ready to compute on ctx.device, or says why it cannot. */
  start(ctx: StartContext): Promise<StartResult>;
  /** The engine for a started backend. */
  create(choice: BackendChoice, ctx: StartContext): Engine;
  /** doctor: whether it is installed and loads, without more side effects than needed. */
  probe(deps: EngineDeps, earlier: BackendProbe[]): Promise<BackendProbe>;
}
