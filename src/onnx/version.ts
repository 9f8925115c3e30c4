// The exporter's version, in a file of its own: what keys exports and measured batch tables,
// readable without loading the exporter (engines/batch-plan.ts runs for every model).

/** Bumped whenever the exported graph for the same model changes (it keys the .onnx cache). */
export const EXPORTER_VERSION = 1;
