// The addon's entry: exports every function of op_table.h under its JS name.
#include <napi.h>

#include "ops.h"
#include "tensor_handle.h"

namespace crjs {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  TensorHandle::Define(env);  // kept in instance data, not exported: handles come only from ops

#define CR_BINDING(js_name, fn) exports.Set(#js_name, Napi::Function::New<Guarded<fn>>(env, #js_name));
#include "op_table.h"
#undef CR_BINDING
  return exports;
}

}  // namespace crjs

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return crjs::Init(env, exports); }
NODE_API_MODULE(cudnn_resnet, InitAddon)
