// PLACEHOLDER: to be implemented.
#include "../core/errors.h"
#include "ops.h"

namespace crjs {

Napi::Value Pool2dForward(const Napi::CallbackInfo&) { cr::throw_runtime("Pool2dForward", "not implemented yet"); }
Napi::Value Pool2dBackward(const Napi::CallbackInfo&) { cr::throw_runtime("Pool2dBackward", "not implemented yet"); }

}  // namespace crjs
