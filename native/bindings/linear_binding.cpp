// PLACEHOLDER: to be implemented.
#include "../core/errors.h"
#include "ops.h"

namespace crjs {

Napi::Value LinearForward(const Napi::CallbackInfo&) { cr::throw_runtime("LinearForward", "not implemented yet"); }
Napi::Value LinearBackwardData(const Napi::CallbackInfo&) { cr::throw_runtime("LinearBackwardData", "not implemented yet"); }
Napi::Value LinearBackwardWeight(const Napi::CallbackInfo&) { cr::throw_runtime("LinearBackwardWeight", "not implemented yet"); }
Napi::Value LinearBackwardBias(const Napi::CallbackInfo&) { cr::throw_runtime("LinearBackwardBias", "not implemented yet"); }

}  // namespace crjs
