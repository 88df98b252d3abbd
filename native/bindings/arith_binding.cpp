// arithBinary(a, b, op), arithScalar(x, scalar, op), arithUnary(x, op), broadcastTo(x, shape):
// float tensors of any dtype and layout; results NCHW in the input's dtype. Binary operands
// share dtype and device and broadcast NumPy's way.
#include "../core/backend.h"
#include "args.h"
#include "axis_args.h"
#include "ops.h"
#include "tensor_handle.h"

namespace crjs {

Napi::Value ArithBinary(const Napi::CallbackInfo& info) {
  Args a(info, "arithBinary", 3);
  const cr::Tensor& x = a.tensor(0, "a");
  const cr::Tensor& y = a.tensor(1, "b");
  cr::ArithOp op = read_choice<cr::ArithOp>(
      a, 2, "op",
      {{"add", cr::ArithOp::Add}, {"sub", cr::ArithOp::Sub}, {"mul", cr::ArithOp::Mul}, {"div", cr::ArithOp::Div}});
  expect_floating(a.op(), "a", x);
  expect_floating(a.op(), "b", y);
  if (y.dtype != x.dtype)
    cr::throw_type(a.op(), "b", "must have the dtype of 'a' (" + x.describe() + "), got " + y.describe());
  expect_same_device(a.op(), "b", y, "a", x);
  cr::Shape out;
  if (!cr::broadcast_shapes(x.shape, y.shape, out) || out.size() > static_cast<size_t>(cr::kMaxRank))
    cr::throw_range(a.op(), "b",
                    "shape " + cr::shape_str(y.shape) + " does not broadcast with 'a' shape " + cr::shape_str(x.shape));
  return TensorHandle::Wrap(a.env(), cr::backend_for(x.device()).arith_binary(x, y, op));
}

Napi::Value ArithScalar(const Napi::CallbackInfo& info) {
  Args a(info, "arithScalar", 3);
  const cr::Tensor& x = a.tensor(0, "x");
  double s = a.number(1, "scalar");
  cr::ScalarOp op = read_choice<cr::ScalarOp>(a, 2, "op",
                                              {{"add", cr::ScalarOp::Add},
                                               {"sub", cr::ScalarOp::Sub},
                                               {"rsub", cr::ScalarOp::RSub},
                                               {"mul", cr::ScalarOp::Mul},
                                               {"div", cr::ScalarOp::Div},
                                               {"rdiv", cr::ScalarOp::RDiv},
                                               {"pow", cr::ScalarOp::Pow}});
  expect_floating(a.op(), "x", x);
  return TensorHandle::Wrap(a.env(), cr::backend_for(x.device()).arith_scalar(x, s, op));
}

Napi::Value ArithUnary(const Napi::CallbackInfo& info) {
  Args a(info, "arithUnary", 2);
  const cr::Tensor& x = a.tensor(0, "x");
  cr::UnaryOp op = read_choice<cr::UnaryOp>(a, 1, "op",
                                            {{"neg", cr::UnaryOp::Neg},
                                             {"exp", cr::UnaryOp::Exp},
                                             {"log", cr::UnaryOp::Log},
                                             {"sqrt", cr::UnaryOp::Sqrt},
                                             {"abs", cr::UnaryOp::Abs},
                                             {"sign", cr::UnaryOp::Sign}});
  expect_floating(a.op(), "x", x);
  return TensorHandle::Wrap(a.env(), cr::backend_for(x.device()).arith_unary(x, op));
}

Napi::Value BroadcastTo(const Napi::CallbackInfo& info) {
  Args a(info, "broadcastTo", 2);
  const cr::Tensor& x = a.tensor(0, "x");
  cr::Shape shape = a.shape(1, "shape");
  expect_floating(a.op(), "x", x);
  cr::Shape out;
  if (shape.size() < x.shape.size() || !cr::broadcast_shapes(x.shape, shape, out) || out != shape)
    cr::throw_range(a.op(), "shape", cr::shape_str(x.shape) + " does not broadcast to " + cr::shape_str(shape));
  return TensorHandle::Wrap(a.env(), cr::backend_for(x.device()).broadcast_to(x, shape));
}

}  // namespace crjs
