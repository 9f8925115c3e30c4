// How a Keras tensor lives in the ONNX graph. Keras is channels-last; ONNX Runtime's
// fast convolutions are channels-first. Rank-4 values therefore flow NCHW between
// convolutions, and a value only goes back to NHWC where Keras semantics need the memory
// order (Flatten, Reshape, Dense on 4-D input, graph outputs). Everything else (rank 2,
// rank 3) is 'plain': the same axes as Keras.

export type Layout = 'NCHW' | 'NHWC' | 'plain';

/** Keras shape, batch first, null where unknown; always channels-last order. */
export type KerasShape = (number | null)[];

export interface OnnxValue {
  /** The ONNX value name. */
  name: string;
  layout: Layout;
  shape: KerasShape;
}

export const TO_NCHW = [0, 3, 1, 2];
export const TO_NHWC = [0, 2, 3, 1];

/** Layout a fresh Keras value of this rank has when it is produced in Keras order. */
export function kerasLayout(shape: KerasShape): Layout {
  return shape.length === 4 ? 'NHWC' : 'plain';
}

/**
 * ONNX axis for a Keras axis of `shape` as laid out in `layout`. Keras axis 3 (channels)
 * of a rank-4 value is ONNX axis 1 when the value is NCHW.
 */
export function onnxAxis(kerasAxis: number, shape: KerasShape, layout: Layout): number {
  const rank = shape.length;
  const axis = kerasAxis < 0 ? kerasAxis + rank : kerasAxis;
  if (layout !== 'NCHW') return axis;
  return TO_NCHW.indexOf(axis);
}

/** Both spatial sides known and equal to 1: NCHW and NHWC are the same bytes. */
export function isPointSpatial(shape: KerasShape): boolean {
  return shape.length === 4 && shape[1] === 1 && shape[2] === 1;
}

/**
 * TensorFlow's 'same' padding along one side: output ceil(in/stride), the padding it
 * needs split with the odd pixel at the end (bottom/right). ONNX's auto_pad is not
 * used: SAME_UPPER matches only by convention, explicit pads match by construction.
 */
export function samePadding(inSize: number, kernel: number, stride: number, dilation = 1): [number, number] {
  const effective = (kernel - 1) * dilation + 1;
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + effective - inSize, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}
