// One published weights file of a model, as its card lists it. The card schema
// (zoo/card.ts) holds a list of these; the weights code needs only this part of a card.
export interface WeightsSource {
  /** keras-h5: a Keras .h5 weights file; tfjs-layers: a TF.js layers model.json. */
  format: 'keras-h5' | 'tfjs-layers';
  url: string;
  /** File name in the cache directory (cache/<card name>/<fileName>). */
  fileName: string;
  /** Whether the file holds the classifier head (Keras' "include_top"). */
  includeTop: boolean;
  /** Checksum of the downloaded file (for tfjs-layers: of model.json). null when nobody publishes one. */
  hash: string | null;
  hashAlgorithm: 'md5' | 'sha256' | null;
  /** Where the hash comes from, e.g. "keras/src/applications/vgg16.py WEIGHTS_PATH hash". */
  hashSource?: string;
  sizeBytes?: number;
  note?: string;
}
