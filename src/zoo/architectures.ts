// The architecture registry: card.architecture -> builder. One line per builder; a new
// family adds its file in src/zoo/ and one line here.
import type { tf } from '../tf.js';
import type { BuildOptions } from './card.js';
import { inceptionV3 } from './inception_v3.js';
import { mobilenet } from './mobilenet.js';
import { mobilenetV2 } from './mobilenet_v2.js';
import { resnet50 } from './resnet.js';
import { vgg16, vgg19 } from './vgg.js';

export type ArchitectureBuilder = (opts: BuildOptions) => tf.LayersModel;

export const ARCHITECTURES: Record<string, ArchitectureBuilder> = {
  vgg16: vgg16,
  vgg19: vgg19,
  resnet50: resnet50,
  inception_v3: inceptionV3,
  mobilenet: mobilenet,
  mobilenet_v2: mobilenetV2,
};

/** Builds the named architecture; an unknown name throws an Error that lists the valid ones. */
export function buildArchitecture(name: string, opts: BuildOptions = {}): tf.LayersModel {
  const builder = Object.hasOwn(ARCHITECTURES, name) ? ARCHITECTURES[name] : undefined;
  if (!builder) {
    throw new Error(`Unknown architecture '${name}'. Valid architectures are: ${Object.keys(ARCHITECTURES).join(', ')}`);
  }
  return builder(opts);
}
