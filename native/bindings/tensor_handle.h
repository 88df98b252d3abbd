// The JS-visible tensor handle: a type-tagged ObjectWrap that owns one cr::Tensor. dispose()
// frees it now; the finalizer is only the safety net for handles nobody disposed.
#pragma once
#include <napi.h>

#include <atomic>

#include "../core/tensor.h"

namespace crjs {

class TensorHandle : public Napi::ObjectWrap<TensorHandle> {
 public:
  static Napi::Function Define(Napi::Env env);
  // Wraps a native tensor in a new JS handle (the only way handles are made).
  static Napi::Object Wrap(Napi::Env env, cr::Tensor t);
  // The handle's tensor if `v` is a live handle, else nullptr; `*disposed` tells why.
  static TensorHandle* Unwrap(const Napi::Value& v);

  explicit TensorHandle(const Napi::CallbackInfo& info);
  ~TensorHandle() override;
  void Finalize(Napi::Env env) override;

  const cr::Tensor& tensor() const { return tensor_; }
  bool disposed() const { return disposed_; }

  static int64_t live_count();

 private:
  Napi::Value Shape(const Napi::CallbackInfo& info);
  Napi::Value DType(const Napi::CallbackInfo& info);
  Napi::Value Layout(const Napi::CallbackInfo& info);
  Napi::Value DeviceName(const Napi::CallbackInfo& info);
  Napi::Value NBytes(const Napi::CallbackInfo& info);
  Napi::Value Disposed(const Napi::CallbackInfo& info);
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value ReadAsync(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  void Release(Napi::Env env);

  cr::Tensor tensor_;
  bool disposed_ = false;
  int64_t external_bytes_ = 0;
};

}  // namespace crjs
