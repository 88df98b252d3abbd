// relu, add, scale, axpy. Binary ops need operands of identical shape, dtype, layout, device.
#include "../core/backend.h"
#include "args.h"
#include "ops.h"
#include "tensor_handle.h"

namespace crjs {

Napi::Value ReluForward(const Napi::CallbackInfo& info) {
  Args a(info, "reluForward", 1);
  const cr::Tensor& x = a.tensor(0, "x");
  expect_floating(a.op(), "x", x);
  return TensorHandle::Wrap(a.env(), cr::backend_for(x.device()).relu_forward(x));
}

Napi::Value ReluBackward(const Napi::CallbackInfo& info) {
  Args a(info, "reluBackward", 2);
  const cr::Tensor& dy = a.tensor(0, "dy");
  const cr::Tensor& y = a.tensor(1, "y");
  expect_floating(a.op(), "dy", dy);
  expect_like(a.op(), "y", y, "dy", dy);
  return TensorHandle::Wrap(a.env(), cr::backend_for(dy.device()).relu_backward(dy, y));
}

Napi::Value Add(const Napi::CallbackInfo& info) {
  Args a(info, "add", 2);
  const cr::Tensor& x = a.tensor(0, "a");
  const cr::Tensor& y = a.tensor(1, "b");
  expect_floating(a.op(), "a", x);
  expect_like(a.op(), "b", y, "a", x);
  return TensorHandle::Wrap(a.env(), cr::backend_for(x.device()).add(x, y));
}

Napi::Value Scale(const Napi::CallbackInfo& info) {
  Args a(info, "scale", 2);
  const cr::Tensor& x = a.tensor(0, "x");
  double alpha = a.number(1, "alpha");
  expect_floating(a.op(), "x", x);
  return TensorHandle::Wrap(a.env(), cr::backend_for(x.device()).scale(x, static_cast<float>(alpha)));
}

Napi::Value Axpy(const Napi::CallbackInfo& info) {
  Args a(info, "axpy", 3);
  double alpha = a.number(0, "alpha");
  const cr::Tensor& x = a.tensor(1, "x");
  const cr::Tensor& y = a.tensor(2, "y");
  expect_floating(a.op(), "y", y);
  expect_floating(a.op(), "x", x);
  expect_same_device(a.op(), "x", x, "y", y);
  expect_same_shape(a.op(), "x", x, "y", y);
  if (x.rank() == 4 && x.layout != y.layout)
    cr::throw_type(a.op(), "x", "must have the layout of 'y' (" + y.describe() + "), got " + x.describe());
  cr::backend_for(y.device()).axpy_(static_cast<float>(alpha), x, y);
  return a.env().Undefined();
}

}  // namespace crjs
