// Dtype and layout conversions: cast(x, dtype), toLayout(x, layout), convert(x, dtype,
// layout), each returning a new tensor on x's device.
#include <string>

#include "../core/backend.h"
#include "args.h"
#include "ops.h"
#include "tensor_handle.h"

namespace crjs {

Napi::Value Cast(const Napi::CallbackInfo& info) {
  Args a(info, "cast", 2);
  const cr::Tensor& x = a.tensor(0, "x");
  cr::DType dtype = a.dtype(1, "dtype");
  return TensorHandle::Wrap(a.env(), cr::backend_for(x.device()).cast(x, dtype));
}

Napi::Value ToLayout(const Napi::CallbackInfo& info) {
  Args a(info, "toLayout", 2);
  const cr::Tensor& x = a.tensor(0, "x");
  cr::Layout layout = a.layout(1, "layout");
  expect_rank("toLayout", "x", x, 4);
  return TensorHandle::Wrap(a.env(), cr::backend_for(x.device()).to_layout(x, layout));
}

Napi::Value Convert(const Napi::CallbackInfo& info) {
  Args a(info, "convert", 3);
  const cr::Tensor& x = a.tensor(0, "x");
  cr::DType dtype = a.dtype(1, "dtype");
  cr::Layout layout = a.layout(2, "layout");
  if (x.rank() != 4 && layout != cr::Layout::NCHW)
    cr::throw_range("convert", "layout", "must be NCHW for a " + std::to_string(x.rank()) + "-D tensor (only 4-D tensors have a layout)");
  return TensorHandle::Wrap(a.env(), cr::backend_for(x.device()).convert(x, dtype, layout));
}

}  // namespace crjs
