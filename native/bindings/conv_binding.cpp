// PLACEHOLDER: to be implemented.
#include "../core/errors.h"
#include "ops.h"

namespace crjs {

Napi::Value Conv2dForward(const Napi::CallbackInfo&) { cr::throw_runtime("Conv2dForward", "not implemented yet"); }
Napi::Value Conv2dBackwardData(const Napi::CallbackInfo&) { cr::throw_runtime("Conv2dBackwardData", "not implemented yet"); }
Napi::Value Conv2dBackwardFilter(const Napi::CallbackInfo&) { cr::throw_runtime("Conv2dBackwardFilter", "not implemented yet"); }
Napi::Value Conv2dBackwardBias(const Napi::CallbackInfo&) { cr::throw_runtime("Conv2dBackwardBias", "not implemented yet"); }

}  // namespace crjs
