// The addon's entry: only the export table. Names match lib/native.ts (NativeAddon).
#include <napi.h>

#include "ops.h"
#include "tensor_handle.h"

namespace crjs {

#define CR_EXPORT(name, fn) exports.Set(name, Napi::Function::New<Guarded<fn>>(env, name))

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  TensorHandle::Define(env);  // kept in instance data, not exported: handles come only from ops

  CR_EXPORT("empty", Empty);
  CR_EXPORT("full", Full);
  CR_EXPORT("fromTypedArray", FromTypedArray);
  CR_EXPORT("toDevice", ToDevice);
  CR_EXPORT("cast", Cast);
  CR_EXPORT("toLayout", ToLayout);
  CR_EXPORT("convert", Convert);
  CR_EXPORT("reshape", Reshape);
  CR_EXPORT("copyInto", CopyInto);
  CR_EXPORT("synchronize", Synchronize);
  CR_EXPORT("memoryStats", MemoryStats);
  CR_EXPORT("buildInfo", BuildInfo);

  CR_EXPORT("conv2dForward", Conv2dForward);
  CR_EXPORT("conv2dBackwardData", Conv2dBackwardData);
  CR_EXPORT("conv2dBackwardFilter", Conv2dBackwardFilter);
  CR_EXPORT("conv2dBackwardBias", Conv2dBackwardBias);

  CR_EXPORT("batchNormForwardTraining", BatchNormForwardTraining);
  CR_EXPORT("batchNormForwardInference", BatchNormForwardInference);
  CR_EXPORT("batchNormBackward", BatchNormBackward);

  CR_EXPORT("reluForward", ReluForward);
  CR_EXPORT("reluBackward", ReluBackward);
  CR_EXPORT("add", Add);
  CR_EXPORT("scale", Scale);
  CR_EXPORT("axpy", Axpy);

  CR_EXPORT("pool2dForward", Pool2dForward);
  CR_EXPORT("pool2dBackward", Pool2dBackward);

  CR_EXPORT("linearForward", LinearForward);
  CR_EXPORT("linearBackwardData", LinearBackwardData);
  CR_EXPORT("linearBackwardWeight", LinearBackwardWeight);
  CR_EXPORT("linearBackwardBias", LinearBackwardBias);

  CR_EXPORT("softmaxCrossEntropyForward", SoftmaxCrossEntropyForward);
  CR_EXPORT("softmaxCrossEntropyBackward", SoftmaxCrossEntropyBackward);

  CR_EXPORT("sgdUpdate", SgdUpdate);
  CR_EXPORT("ampUnscale", AmpUnscale);
  CR_EXPORT("ampUpdateScale", AmpUpdateScale);

  CR_EXPORT("fillConstant", FillConstant);
  CR_EXPORT("fillUniform", FillUniform);
  CR_EXPORT("fillNormal", FillNormal);
  CR_EXPORT("fillKaimingNormal", FillKaimingNormal);

  CR_EXPORT("sum", Sum);
  CR_EXPORT("l2Norms", L2Norms);

  CR_EXPORT("shortcutAForward", ShortcutAForward);
  CR_EXPORT("shortcutABackward", ShortcutABackward);

  CR_EXPORT("cudaInfo", CudaInfo);
  CR_EXPORT("cudaMemoryStats", CudaMemoryStats);
  CR_EXPORT("cudaEmptyCache", CudaEmptyCache);
  CR_EXPORT("graphCaptureBegin", GraphCaptureBegin);
  CR_EXPORT("graphCaptureEnd", GraphCaptureEnd);
  CR_EXPORT("graphCaptureAbort", GraphCaptureAbort);
  CR_EXPORT("graphReplay", GraphReplay);
  CR_EXPORT("eventTimerStart", EventTimerStart);
  CR_EXPORT("eventTimerStop", EventTimerStop);

  CR_EXPORT("augmentBatch", AugmentBatch);
  CR_EXPORT("gatherLabels", GatherLabels);
  return exports;
}

#undef CR_EXPORT

}  // namespace crjs

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return crjs::Init(env, exports); }
NODE_API_MODULE(cudnn_resnet, InitAddon)
