// The one TensorFlow.js instance every module uses. tfjs-node(-gpu), when present,
// registers its native backend on this same instance (same pinned version).
import * as tf from '@tensorflow/tfjs';

// PROD silences tfjs' console banners ("install our node backend…"), which would
// otherwise land in the user's output; backbones reports the backend itself.
tf.env().set('PROD', true);

export { tf };
export type { Tensor, Tensor4D, LayersModel, GraphModel } from '@tensorflow/tfjs';
