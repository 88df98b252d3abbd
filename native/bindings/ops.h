// Every function the addon exports (declared from op_table.h; each defined in
// <family>_binding.cpp), and the guard that turns native exceptions into JS ones.
#pragma once
#include <napi.h>

#include "../core/errors.h"
#include "args.h"

namespace crjs {

using Binding = Napi::Value (*)(const Napi::CallbackInfo&);

Napi::Error to_js_error(Napi::Env env, const cr::OpError& e);

// An error raised below the bindings without an op name (out of memory in an allocator, a
// CUDA failure) gets the name of the op that was running, so every message says which call
// failed.
cr::OpError with_current_op(const cr::OpError& e);

// Runs F, converting cr::OpError (TypeError/RangeError/Error with .code) and any other C++
// exception into a JS exception, so nothing native ever escapes into Node and aborts it.
template <Binding F>
Napi::Value Guarded(const Napi::CallbackInfo& info) {
  set_current_op(nullptr);
  try {
    return F(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const cr::OpError& e) {
    throw to_js_error(info.Env(), with_current_op(e));
  } catch (const std::bad_alloc&) {
    throw to_js_error(info.Env(),
                      with_current_op(cr::OpError(cr::ErrorKind::OutOfMemory, "out of host memory", "ERR_CPU_OOM")));
  } catch (const std::exception& e) {
    throw to_js_error(info.Env(), with_current_op(cr::OpError(cr::ErrorKind::Runtime, e.what())));
  }
}

#define CR_BINDING(js_name, fn) Napi::Value fn(const Napi::CallbackInfo& info);
#include "op_table.h"
#undef CR_BINDING

// Whether this build has the CUDA backend (tensor_binding.cpp); without it the CUDA entry
// points are cuda/placeholders.cpp's.
bool cuda_compiled();

}  // namespace crjs
