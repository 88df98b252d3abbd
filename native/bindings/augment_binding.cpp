// PLACEHOLDER: to be implemented.
#include "../core/errors.h"
#include "ops.h"

namespace crjs {

Napi::Value AugmentBatch(const Napi::CallbackInfo&) { cr::throw_runtime("AugmentBatch", "not implemented yet"); }
Napi::Value GatherLabels(const Napi::CallbackInfo&) { cr::throw_runtime("GatherLabels", "not implemented yet"); }

}  // namespace crjs
