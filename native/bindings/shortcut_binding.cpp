// Option-A shortcut bindings: x is a 4-D float tensor (any float dtype, either layout).
#include <string>

#include "../core/backend.h"
#include "args.h"
#include "ops.h"
#include "tensor_handle.h"

namespace crjs {

Napi::Value ShortcutAForward(const Napi::CallbackInfo& info) {
  Args a(info, "shortcutAForward", 3);
  const cr::Tensor& x = a.tensor(0, "x");
  expect_rank(a.op(), "x", x, 4);
  expect_floating(a.op(), "x", x);
  int64_t out_channels = a.integer(1, "outChannels", 1, cr::kMaxElements);
  int stride = static_cast<int>(a.integer(2, "stride", 1, 1 << 20));
  if (out_channels < x.shape[1])
    cr::throw_range(
        a.op(), "outChannels",
        "must be >= the input's channels (" + std::to_string(x.shape[1]) + "), got " + std::to_string(out_channels));
  const double out_numel = static_cast<double>(x.shape[0]) * out_channels * ((x.shape[2] + stride - 1) / stride) *
                           ((x.shape[3] + stride - 1) / stride);
  if (out_numel > static_cast<double>(cr::kMaxElements))
    cr::throw_range(a.op(), "outChannels", "makes an output of more than 2^36 elements");
  return TensorHandle::Wrap(a.env(), cr::backend_for(x.device()).shortcut_a_forward(x, out_channels, stride));
}

Napi::Value ShortcutABackward(const Napi::CallbackInfo& info) {
  Args a(info, "shortcutABackward", 4);
  const cr::Tensor& dy = a.tensor(0, "dy");
  expect_rank(a.op(), "dy", dy, 4);
  expect_floating(a.op(), "dy", dy);
  int64_t in_channels = a.integer(1, "inChannels", 1, cr::kMaxElements);
  int stride = static_cast<int>(a.integer(2, "stride", 1, 1 << 20));
  cr::Shape x_shape = a.shape(3, "xShape");
  if (x_shape.size() != 4) cr::throw_range(a.op(), "xShape", "must be 4-D, got " + cr::shape_str(x_shape));
  if (x_shape[1] != in_channels)
    cr::throw_range(a.op(), "inChannels",
                    "must equal xShape[1] (" + std::to_string(x_shape[1]) + "), got " + std::to_string(in_channels));
  if (in_channels > dy.shape[1])
    cr::throw_range(
        a.op(), "inChannels",
        "must be <= the channels of 'dy' (" + std::to_string(dy.shape[1]) + "), got " + std::to_string(in_channels));
  cr::Shape want = {x_shape[0], dy.shape[1], (x_shape[2] + stride - 1) / stride, (x_shape[3] + stride - 1) / stride};
  expect_shape(a.op(), "dy", dy, want);
  return TensorHandle::Wrap(a.env(),
                            cr::backend_for(dy.device()).shortcut_a_backward(dy, in_channels, stride, x_shape));
}

}  // namespace crjs
