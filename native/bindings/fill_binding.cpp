// PLACEHOLDER: to be implemented.
#include "../core/errors.h"
#include "ops.h"

namespace crjs {

Napi::Value FillConstant(const Napi::CallbackInfo&) { cr::throw_runtime("FillConstant", "not implemented yet"); }
Napi::Value FillUniform(const Napi::CallbackInfo&) { cr::throw_runtime("FillUniform", "not implemented yet"); }
Napi::Value FillNormal(const Napi::CallbackInfo&) { cr::throw_runtime("FillNormal", "not implemented yet"); }
Napi::Value FillKaimingNormal(const Napi::CallbackInfo&) { cr::throw_runtime("FillKaimingNormal", "not implemented yet"); }

}  // namespace crjs
