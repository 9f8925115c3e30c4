// The widths (alpha) Keras builds and publishes weights for, per architecture: the
// --alpha values the spec accepts. No TensorFlow.js here, so option checks stay quick.
export const ALPHAS: Readonly<Record<string, readonly number[]>> = {
  mobilenet: [0.25, 0.5, 0.75, 1.0],
  mobilenet_v2: [0.35, 0.5, 0.75, 1.0, 1.3, 1.4],
};
