// Pooling bindings. params = [kernelH, kernelW, strideH, strideW, padH, padW]; mode 'max' or
// 'avg'. Like PyTorch, padding may be at most half the kernel, which also guarantees that
// every window touches the input.
#include "../core/backend.h"
#include "args.h"
#include "ops.h"
#include "tensor_handle.h"

namespace crjs {

namespace {

cr::Pool2dParams read_params(const Args& a, size_t mode_i, size_t params_i, size_t cip_i, const cr::Tensor& x) {
  cr::Pool2dParams p;
  std::string mode = a.string(mode_i, "mode");
  if (mode == "max")
    p.mode = cr::PoolMode::Max;
  else if (mode == "avg")
    p.mode = cr::PoolMode::Average;
  else
    cr::throw_type(a.op(), "mode", "must be 'max' or 'avg'; got '" + mode + "'");
  std::vector<int64_t> v = a.int_array(params_i, "params", 6, 0, 1 << 20);
  if (v[0] < 1 || v[1] < 1) cr::throw_range(a.op(), "params", "kernel sizes must be >= 1");
  if (v[2] < 1 || v[3] < 1) cr::throw_range(a.op(), "params", "strides must be >= 1");
  if (2 * v[4] > v[0] || 2 * v[5] > v[1])
    cr::throw_range(a.op(), "params",
                    "padding must be at most half the kernel size, got pad [" + std::to_string(v[4]) + ", " +
                        std::to_string(v[5]) + "] for kernel [" + std::to_string(v[0]) + ", " + std::to_string(v[1]) +
                        "]");
  p.kernel_h = static_cast<int>(v[0]);
  p.kernel_w = static_cast<int>(v[1]);
  p.stride_h = static_cast<int>(v[2]);
  p.stride_w = static_cast<int>(v[3]);
  p.pad_h = static_cast<int>(v[4]);
  p.pad_w = static_cast<int>(v[5]);
  p.count_include_pad = a.boolean(cip_i, "countIncludePad");
  if (x.shape[2] + 2 * p.pad_h < p.kernel_h || x.shape[3] + 2 * p.pad_w < p.kernel_w)
    cr::throw_range(a.op(), "params",
                    "kernel [" + std::to_string(p.kernel_h) + ", " + std::to_string(p.kernel_w) +
                        "] is larger than the padded input " + x.describe());
  return p;
}

cr::Shape out_shape(const cr::Tensor& x, const cr::Pool2dParams& p) {
  return {x.shape[0], x.shape[1], cr::conv_out_size(x.shape[2], p.kernel_h, p.stride_h, p.pad_h, 1),
          cr::conv_out_size(x.shape[3], p.kernel_w, p.stride_w, p.pad_w, 1)};
}

}  // namespace

Napi::Value Pool2dForward(const Napi::CallbackInfo& info) {
  Args a(info, "pool2dForward", 4);
  const cr::Tensor& x = a.tensor(0, "x");
  expect_rank(a.op(), "x", x, 4);
  expect_floating(a.op(), "x", x);
  cr::Pool2dParams p = read_params(a, 1, 2, 3, x);
  return TensorHandle::Wrap(a.env(), cr::backend_for(x.device()).pool2d_forward(x, p));
}

Napi::Value Pool2dBackward(const Napi::CallbackInfo& info) {
  Args a(info, "pool2dBackward", 6);
  const cr::Tensor& dy = a.tensor(0, "dy");
  const cr::Tensor& x = a.tensor(1, "x");
  const cr::Tensor& y = a.tensor(2, "y");
  expect_rank(a.op(), "x", x, 4);
  expect_floating(a.op(), "x", x);
  cr::Pool2dParams p = read_params(a, 3, 4, 5, x);
  expect_rank(a.op(), "dy", dy, 4);
  expect_same_device(a.op(), "dy", dy, "x", x);
  expect_shape(a.op(), "dy", dy, out_shape(x, p));
  if (dy.dtype != x.dtype || dy.layout != x.layout)
    cr::throw_type(a.op(), "dy", "must have the dtype and layout of 'x' (" + x.describe() + "), got " + dy.describe());
  expect_like(a.op(), "y", y, "dy", dy);
  return TensorHandle::Wrap(a.env(), cr::backend_for(x.device()).pool2d_backward(dy, x, y, p));
}

}  // namespace crjs
