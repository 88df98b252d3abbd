// PLACEHOLDER: to be implemented.
#include "../core/errors.h"
#include "ops.h"

namespace crjs {

Napi::Value SgdUpdate(const Napi::CallbackInfo&) { cr::throw_runtime("SgdUpdate", "not implemented yet"); }

}  // namespace crjs
