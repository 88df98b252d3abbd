// softmaxForward(x, axis, log) and softmaxBackward(dy, y, axis, log): float tensors of any
// dtype and layout; results NCHW in the input's dtype. `log` picks log-softmax.
#include "../core/backend.h"
#include "args.h"
#include "axis_args.h"
#include "ops.h"
#include "tensor_handle.h"

namespace crjs {

Napi::Value SoftmaxForward(const Napi::CallbackInfo& info) {
  Args a(info, "softmaxForward", 3);
  const cr::Tensor& x = a.tensor(0, "x");
  int axis = read_axis(a, 1, "dim", x.rank());
  bool log = a.boolean(2, "log");
  expect_floating(a.op(), "x", x);
  return TensorHandle::Wrap(a.env(), cr::backend_for(x.device()).softmax_forward(x, axis, log));
}

Napi::Value SoftmaxBackward(const Napi::CallbackInfo& info) {
  Args a(info, "softmaxBackward", 4);
  const cr::Tensor& dy = a.tensor(0, "dy");
  const cr::Tensor& y = a.tensor(1, "y");
  int axis = read_axis(a, 2, "dim", y.rank());
  bool log = a.boolean(3, "log");
  expect_floating(a.op(), "dy", dy);
  expect_floating(a.op(), "y", y);
  expect_same_device(a.op(), "y", y, "dy", dy);
  expect_same_shape(a.op(), "y", y, "dy", dy);
  return TensorHandle::Wrap(a.env(), cr::backend_for(dy.device()).softmax_backward(dy, y, axis, log));
}

}  // namespace crjs
