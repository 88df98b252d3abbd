// Inference: predicting classes of images (model.predict, infer.predict), loading a trained
// run or a weights file for it (infer.load), and the metrics of a labelled set (evaluate,
// confusion matrix as CSV and SVG).
export { predict, inputImageSize, inputNormalization, topK } from './predict';
export type { ClassScore, ImageInput, PredictInput, PredictOptions, Predictions, UsedNormalization } from './predict';
export { load, resolveCheckpoint } from './load';
export type { LoadOptions } from './load';
export { ClassificationMetrics, confusionCsv, confusionSvg, evaluate } from './metrics';
