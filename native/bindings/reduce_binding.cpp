// PLACEHOLDER: to be implemented.
#include "../core/errors.h"
#include "ops.h"

namespace crjs {

Napi::Value Sum(const Napi::CallbackInfo&) { cr::throw_runtime("Sum", "not implemented yet"); }
Napi::Value L2Norms(const Napi::CallbackInfo&) { cr::throw_runtime("L2Norms", "not implemented yet"); }

}  // namespace crjs
