// PLACEHOLDER: to be implemented.
#include "../core/errors.h"
#include "ops.h"

namespace crjs {

Napi::Value ShortcutAForward(const Napi::CallbackInfo&) { cr::throw_runtime("ShortcutAForward", "not implemented yet"); }
Napi::Value ShortcutABackward(const Napi::CallbackInfo&) { cr::throw_runtime("ShortcutABackward", "not implemented yet"); }

}  // namespace crjs
