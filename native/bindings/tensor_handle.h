// The JS-visible tensor handle: a type-tagged JS object wrapping one native TensorHandle,
// which owns one cr::Tensor. dispose() frees it now, wrapper included; the finalizer is only
// the safety net for handles nobody disposed.
//
// Why not Napi::ObjectWrap: Node runs the finalizers of collected wrapped objects from
// setImmediate, not during garbage collection, so every handle collected during a
// synchronous loop (a training loop that never yields to the event loop) keeps its wrapper
// and Node's reference to it (~200 bytes) until the loop ends: RSS grew without bound by
// that much per tensor. dispose() therefore removes the wrap (napi_remove_wrap deletes
// Node's reference at once) and deletes the native object itself; the JS object that is
// left owns nothing native and needs no finalizer.
#pragma once
#include <napi.h>

#include <atomic>

#include "../core/tensor.h"

namespace crjs {

class TensorHandle {
 public:
  static Napi::Function Define(Napi::Env env);
  // Wraps a native tensor in a new JS handle (the only way handles are made).
  static Napi::Object Wrap(Napi::Env env, cr::Tensor t);
  // The handle behind `v` if it is a live one, else nullptr; `*disposed` is set when `v` is a
  // handle of this addon that was disposed.
  static TensorHandle* Unwrap(const Napi::Value& v, bool* disposed = nullptr);

  const cr::Tensor& tensor() const { return tensor_; }

  // Handles neither disposed nor finalized.
  static int64_t live_count();

  TensorHandle(Napi::Env env, cr::Tensor t);
  ~TensorHandle();
  TensorHandle(const TensorHandle&) = delete;
  TensorHandle& operator=(const TensorHandle&) = delete;

 private:
  static napi_value Construct(napi_env env, napi_callback_info info);
  static void Finalize(napi_env env, void* data, void* hint);

  cr::Tensor tensor_;
  napi_env env_;
};

}  // namespace crjs
