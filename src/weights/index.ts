// Weights: which file a model gets (resolve), cache paths, downloads, Keras .h5 and TF.js readers, assignment to a model.
export { WeightsError } from './errors.js';
export { resolveCacheDir, cachedPath, cachedTfjsDir, isCached } from './cache.js';
export { downloadFile, downloadTfjsModel, progressReporter, offlineMessage, isUrl } from './download.js';
export { planWeights, locateImagenet, imagenetSources, imagenetCached, sourcesWithStatus, pullSource, sourceUrl, weightsFormatOf } from './resolve.js';
export type { WeightsPlan, WeightsRequest, ImagenetFile, HeadNeed } from './resolve.js';
export { readModelJson, modelHandler } from './tfjs-artifacts.js';
export type { DownloadOptions, DownloadResult, TfjsDownloadOptions, TfjsDownloadResult, ProgressReporter } from './download.js';
export { readKerasH5 } from './h5.js';
export type { KerasWeightsFile, KerasH5Layout } from './h5.js';
export { readTfjsLayersWeights } from './tfjs.js';
export type { TfjsWeightsFile } from './tfjs.js';
export { assignWeights, describeReport } from './assign.js';
export type { AssignOptions, AssignReport, WeightMismatch } from './assign.js';
export type { WeightsFile, LayerWeights, WeightArray } from './types.js';
