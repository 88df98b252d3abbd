// PLACEHOLDER: to be implemented.
#include "../core/errors.h"
#include "ops.h"

namespace crjs {

Napi::Value BatchNormForwardTraining(const Napi::CallbackInfo&) { cr::throw_runtime("BatchNormForwardTraining", "not implemented yet"); }
Napi::Value BatchNormForwardInference(const Napi::CallbackInfo&) { cr::throw_runtime("BatchNormForwardInference", "not implemented yet"); }
Napi::Value BatchNormBackward(const Napi::CallbackInfo&) { cr::throw_runtime("BatchNormBackward", "not implemented yet"); }

}  // namespace crjs
