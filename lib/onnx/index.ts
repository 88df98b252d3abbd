// ONNX export: exportOnnx(model, file, { batch, imageSize }) writes a ResNet as a standard
// ONNX model that onnxruntime (or any runtime with opset 13) runs.
export { exportOnnx, toOnnx, ONNX_OPSET } from './export';
export type { OnnxExportOptions } from './export';
export { decodeModel } from './proto';
export type { OnnxModel, OnnxNode, OnnxTensor } from './proto';
