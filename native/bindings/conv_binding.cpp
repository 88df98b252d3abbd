// conv2dForward / BackwardData / BackwardFilter / BackwardBias. Everything the CPU and CUDA
// backends assume is checked here, since JS may call the addon directly: ranks, dtypes,
// layouts and devices of the operands, channel counts, the six integer params, and that
// the output has at least one pixel and agrees with the given shapes.
#include <string>

#include "../core/backend.h"
#include "../core/errors.h"
#include "args.h"
#include "ops.h"
#include "tensor_handle.h"

namespace crjs {

namespace {

// Far above any real convolution; keeps every size product well inside int64.
constexpr int64_t kMaxParam = 4096;

// params: [strideH, strideW, padH, padW, dilationH, dilationW].
cr::Conv2dParams read_params(const Args& a, size_t i) {
  static const char* const names[6] = {"strideH", "strideW", "padH", "padW", "dilationH", "dilationW"};
  std::vector<int64_t> v = a.int_array(i, "params", 6, 0, kMaxParam);
  for (int k : {0, 1, 4, 5})
    if (v[k] < 1)
      cr::throw_range(a.op(), "params[" + std::to_string(k) + "]",
                      std::string("(") + names[k] + ") must be >= 1, got " + std::to_string(v[k]));
  cr::Conv2dParams p;
  p.stride_h = static_cast<int>(v[0]), p.stride_w = static_cast<int>(v[1]);
  p.pad_h = static_cast<int>(v[2]), p.pad_w = static_cast<int>(v[3]);
  p.dilation_h = static_cast<int>(v[4]), p.dilation_w = static_cast<int>(v[5]);
  return p;
}

// A 4-D float tensor.
void expect_activation(const char* op, const char* name, const cr::Tensor& t) {
  expect_rank(op, name, t, 4);
  expect_floating(op, name, t);
}

// Same device, dtype and layout as ref (shapes differ between the operands of a conv).
void expect_companion(const char* op, const char* name, const cr::Tensor& t, const char* ref_name,
                      const cr::Tensor& ref) {
  expect_same_device(op, name, t, ref_name, ref);
  if (t.dtype != ref.dtype || t.layout != ref.layout)
    cr::throw_type(op, name,
                   "must have the dtype and layout of '" + std::string(ref_name) + "' (" + ref.describe() + "), got " +
                       t.describe());
}

std::string params_str(const cr::Conv2dParams& p) {
  return "stride " + std::to_string(p.stride_h) + "x" + std::to_string(p.stride_w) + ", padding " +
         std::to_string(p.pad_h) + "x" + std::to_string(p.pad_w) + ", dilation " + std::to_string(p.dilation_h) + "x" +
         std::to_string(p.dilation_w);
}

// The output shape [N, K, P, Q] of x conv w; RangeError naming `name` when the dilated
// kernel does not fit the padded input or the output would be too large.
cr::Shape output_shape(const char* op, const char* name, const cr::Shape& x, const cr::Shape& w,
                       const cr::Conv2dParams& p) {
  const int64_t span_h = x[2] + 2 * p.pad_h - p.dilation_h * (w[2] - 1) - 1;
  const int64_t span_w = x[3] + 2 * p.pad_w - p.dilation_w * (w[3] - 1) - 1;
  if (span_h < 0 || span_w < 0)
    cr::throw_range(op, name,
                    "gives an empty output: kernel " + std::to_string(w[2]) + "x" + std::to_string(w[3]) +
                        " does not fit input " + std::to_string(x[2]) + "x" + std::to_string(x[3]) + " with " +
                        params_str(p) + " (x " + cr::shape_str(x) + ", w " + cr::shape_str(w) + ")");
  cr::Shape y{x[0], w[0], span_h / p.stride_h + 1, span_w / p.stride_w + 1};
  double total = 1;
  for (int64_t d : y) total *= static_cast<double>(d);
  if (total > static_cast<double>(cr::kMaxElements))
    cr::throw_range(op, name, "gives an output " + cr::shape_str(y) + " with more than 2^36 elements");
  return y;
}

void expect_four(const char* op, const char* name, const cr::Shape& s, const char* what) {
  if (s.size() != 4)
    cr::throw_range(op, name, std::string("must have 4 entries ") + what + ", got " + cr::shape_str(s));
}

Napi::Value wrap(const Args& a, cr::Tensor t) { return TensorHandle::Wrap(a.env(), std::move(t)); }

}  // namespace

Napi::Value Conv2dForward(const Napi::CallbackInfo& info) {
  Args a(info, "conv2dForward", 5);
  const cr::Tensor& x = a.tensor(0, "x");
  const cr::Tensor& w = a.tensor(1, "w");
  const cr::Tensor* bias = a.optional_tensor(2, "bias");
  cr::Conv2dParams p = read_params(a, 3);
  p.allow_tf32 = a.boolean(4, "allowTf32");
  expect_activation(a.op(), "x", x);
  expect_activation(a.op(), "w", w);
  expect_companion(a.op(), "w", w, "x", x);
  if (w.shape[1] != x.shape[1])
    cr::throw_range(a.op(), "w",
                    "has " + std::to_string(w.shape[1]) + " input channels but 'x' has " + std::to_string(x.shape[1]) +
                        " (x " + cr::shape_str(x.shape) + ", w " + cr::shape_str(w.shape) + ")");
  if (bias) {
    expect_rank(a.op(), "bias", *bias, 1);
    expect_floating(a.op(), "bias", *bias);
    expect_same_device(a.op(), "bias", *bias, "x", x);
    expect_shape(a.op(), "bias", *bias, {w.shape[0]});
  }
  output_shape(a.op(), "w", x.shape, w.shape, p);
  return wrap(a, cr::backend_for(x.device()).conv2d_forward(x, w, bias, p));
}

Napi::Value Conv2dBackwardData(const Napi::CallbackInfo& info) {
  Args a(info, "conv2dBackwardData", 5);
  const cr::Tensor& dy = a.tensor(0, "dy");
  const cr::Tensor& w = a.tensor(1, "w");
  cr::Shape x_shape = a.shape(2, "xShape");
  cr::Conv2dParams p = read_params(a, 3);
  p.allow_tf32 = a.boolean(4, "allowTf32");
  expect_activation(a.op(), "dy", dy);
  expect_activation(a.op(), "w", w);
  expect_companion(a.op(), "w", w, "dy", dy);
  expect_four(a.op(), "xShape", x_shape, "[N, C, H, W]");
  if (x_shape[1] != w.shape[1])
    cr::throw_range(a.op(), "xShape",
                    "has " + std::to_string(x_shape[1]) + " channels but 'w' " + cr::shape_str(w.shape) + " expects " +
                        std::to_string(w.shape[1]));
  cr::Shape y = output_shape(a.op(), "xShape", x_shape, w.shape, p);
  if (y != dy.shape)
    cr::throw_range(a.op(), "xShape",
                    cr::shape_str(x_shape) + " convolved with 'w' " + cr::shape_str(w.shape) + " (" + params_str(p) +
                        ") gives " + cr::shape_str(y) + ", but 'dy' is " + cr::shape_str(dy.shape));
  return wrap(a, cr::backend_for(dy.device()).conv2d_backward_data(dy, w, x_shape, p));
}

Napi::Value Conv2dBackwardFilter(const Napi::CallbackInfo& info) {
  Args a(info, "conv2dBackwardFilter", 5);
  const cr::Tensor& dy = a.tensor(0, "dy");
  const cr::Tensor& x = a.tensor(1, "x");
  cr::Shape w_shape = a.shape(2, "wShape");
  cr::Conv2dParams p = read_params(a, 3);
  p.allow_tf32 = a.boolean(4, "allowTf32");
  expect_activation(a.op(), "dy", dy);
  expect_activation(a.op(), "x", x);
  expect_companion(a.op(), "x", x, "dy", dy);
  expect_four(a.op(), "wShape", w_shape, "[K, C, R, S]");
  if (w_shape[1] != x.shape[1])
    cr::throw_range(a.op(), "wShape",
                    "has " + std::to_string(w_shape[1]) + " input channels but 'x' " + cr::shape_str(x.shape) +
                        " has " + std::to_string(x.shape[1]));
  cr::Shape y = output_shape(a.op(), "wShape", x.shape, w_shape, p);
  if (y != dy.shape)
    cr::throw_range(a.op(), "wShape",
                    cr::shape_str(w_shape) + " applied to 'x' " + cr::shape_str(x.shape) + " (" + params_str(p) +
                        ") gives " + cr::shape_str(y) + ", but 'dy' is " + cr::shape_str(dy.shape));
  return wrap(a, cr::backend_for(dy.device()).conv2d_backward_filter(dy, x, w_shape, p));
}

Napi::Value Conv2dBackwardBias(const Napi::CallbackInfo& info) {
  Args a(info, "conv2dBackwardBias", 1);
  const cr::Tensor& dy = a.tensor(0, "dy");
  expect_activation(a.op(), "dy", dy);
  return wrap(a, cr::backend_for(dy.device()).conv2d_backward_bias(dy));
}

}  // namespace crjs
