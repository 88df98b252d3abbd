// PLACEHOLDER: to be implemented.
#include "../core/errors.h"
#include "ops.h"

namespace crjs {

Napi::Value SoftmaxCrossEntropyForward(const Napi::CallbackInfo&) { cr::throw_runtime("SoftmaxCrossEntropyForward", "not implemented yet"); }
Napi::Value SoftmaxCrossEntropyBackward(const Napi::CallbackInfo&) { cr::throw_runtime("SoftmaxCrossEntropyBackward", "not implemented yet"); }

}  // namespace crjs
