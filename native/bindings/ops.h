// Every function the addon exports, one block per op family (each defined in
// <family>_binding.cpp), and the guard that turns native exceptions into JS ones.
#pragma once
#include <napi.h>

#include "../core/errors.h"
#include "args.h"

namespace crjs {

using Binding = Napi::Value (*)(const Napi::CallbackInfo&);

Napi::Error to_js_error(Napi::Env env, const cr::OpError& e);

// An error raised below the bindings without an op name (out of memory in an allocator, a
// CUDA failure) gets the name of the op that was running, so every message says which call
// failed.
cr::OpError with_current_op(const cr::OpError& e);

// Runs F, converting cr::OpError (TypeError/RangeError/Error with .code) and any other C++
// exception into a JS exception, so nothing native ever escapes into Node and aborts it.
template <Binding F>
Napi::Value Guarded(const Napi::CallbackInfo& info) {
  set_current_op(nullptr);
  try {
    return F(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const cr::OpError& e) {
    throw to_js_error(info.Env(), with_current_op(e));
  } catch (const std::bad_alloc&) {
    throw to_js_error(info.Env(), with_current_op(cr::OpError(cr::ErrorKind::OutOfMemory, "out of host memory", "ERR_CPU_OOM")));
  } catch (const std::exception& e) {
    throw to_js_error(info.Env(), with_current_op(cr::OpError(cr::ErrorKind::Runtime, e.what())));
  }
}

// tensor_binding.cpp
Napi::Value Empty(const Napi::CallbackInfo& info);
Napi::Value Full(const Napi::CallbackInfo& info);
Napi::Value FromTypedArray(const Napi::CallbackInfo& info);
Napi::Value ToDevice(const Napi::CallbackInfo& info);
Napi::Value Reshape(const Napi::CallbackInfo& info);
Napi::Value CopyInto(const Napi::CallbackInfo& info);
Napi::Value Synchronize(const Napi::CallbackInfo& info);
Napi::Value MemoryStats(const Napi::CallbackInfo& info);
Napi::Value BuildInfo(const Napi::CallbackInfo& info);

// convert_binding.cpp
Napi::Value Cast(const Napi::CallbackInfo& info);
Napi::Value ToLayout(const Napi::CallbackInfo& info);
Napi::Value Convert(const Napi::CallbackInfo& info);

// conv_binding.cpp
Napi::Value Conv2dForward(const Napi::CallbackInfo& info);
Napi::Value Conv2dBackwardData(const Napi::CallbackInfo& info);
Napi::Value Conv2dBackwardFilter(const Napi::CallbackInfo& info);
Napi::Value Conv2dBackwardBias(const Napi::CallbackInfo& info);

// batchnorm_binding.cpp
Napi::Value BatchNormForwardTraining(const Napi::CallbackInfo& info);
Napi::Value BatchNormForwardInference(const Napi::CallbackInfo& info);
Napi::Value BatchNormBackward(const Napi::CallbackInfo& info);

// elementwise_binding.cpp
Napi::Value ReluForward(const Napi::CallbackInfo& info);
Napi::Value ReluBackward(const Napi::CallbackInfo& info);
Napi::Value Add(const Napi::CallbackInfo& info);
Napi::Value Scale(const Napi::CallbackInfo& info);
Napi::Value Axpy(const Napi::CallbackInfo& info);

// pooling_binding.cpp
Napi::Value Pool2dForward(const Napi::CallbackInfo& info);
Napi::Value Pool2dBackward(const Napi::CallbackInfo& info);

// linear_binding.cpp
Napi::Value LinearForward(const Napi::CallbackInfo& info);
Napi::Value LinearBackwardData(const Napi::CallbackInfo& info);
Napi::Value LinearBackwardWeight(const Napi::CallbackInfo& info);
Napi::Value LinearBackwardBias(const Napi::CallbackInfo& info);

// loss_binding.cpp
Napi::Value SoftmaxCrossEntropyForward(const Napi::CallbackInfo& info);
Napi::Value SoftmaxCrossEntropyBackward(const Napi::CallbackInfo& info);

// sgd_binding.cpp
Napi::Value SgdUpdate(const Napi::CallbackInfo& info);

// amp_binding.cpp
Napi::Value AmpUnscale(const Napi::CallbackInfo& info);
Napi::Value AmpUpdateScale(const Napi::CallbackInfo& info);

// fill_binding.cpp
Napi::Value FillConstant(const Napi::CallbackInfo& info);
Napi::Value FillUniform(const Napi::CallbackInfo& info);
Napi::Value FillNormal(const Napi::CallbackInfo& info);
Napi::Value FillKaimingNormal(const Napi::CallbackInfo& info);

// reduce_binding.cpp
Napi::Value Sum(const Napi::CallbackInfo& info);
Napi::Value L2Norms(const Napi::CallbackInfo& info);

// shortcut_binding.cpp
Napi::Value ShortcutAForward(const Napi::CallbackInfo& info);
Napi::Value ShortcutABackward(const Napi::CallbackInfo& info);

// cuda_binding.cpp
Napi::Value CudaInfo(const Napi::CallbackInfo& info);
Napi::Value CudaMemoryStats(const Napi::CallbackInfo& info);
Napi::Value CudaEmptyCache(const Napi::CallbackInfo& info);
Napi::Value GraphCaptureBegin(const Napi::CallbackInfo& info);
Napi::Value GraphCaptureEnd(const Napi::CallbackInfo& info);
Napi::Value GraphCaptureAbort(const Napi::CallbackInfo& info);
Napi::Value GraphReplay(const Napi::CallbackInfo& info);
Napi::Value EventTimerStart(const Napi::CallbackInfo& info);
Napi::Value EventTimerStop(const Napi::CallbackInfo& info);

// augment_binding.cpp
Napi::Value AugmentBatch(const Napi::CallbackInfo& info);
Napi::Value GatherLabels(const Napi::CallbackInfo& info);

}  // namespace crjs
