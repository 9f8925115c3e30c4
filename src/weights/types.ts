// The format-neutral form every weights reader returns and assignWeights takes:
// layers in file order, each with its weights in the layer's own order (Keras order:
// Conv2D [kernel, bias], BatchNormalization [gamma, beta, moving_mean, moving_variance],
// DepthwiseConv2D [depthwise_kernel, bias], Dense [kernel, bias]).

export interface WeightArray {
  /** Full name as stored: 'block1_conv1/kernel:0' (Keras .h5), 'conv1/kernel' (TF.js). */
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface LayerWeights {
  name: string;
  /** Empty for layers without weights (Keras lists every layer in layer_names). */
  weights: WeightArray[];
}

export interface WeightsFile {
  layers: LayerWeights[];
}

/** 'block1_conv1/kernel:0' -> 'kernel'; 'conv1/kernel' -> 'kernel'. */
export function shortWeightName(name: string): string {
  const last = name.slice(name.lastIndexOf('/') + 1);
  return last.replace(/:\d+$/, '');
}
