// Batch norm bindings. x is a 4-D float tensor (float32/16/bfloat16, NCHW or NHWC); gamma,
// beta, the running statistics and save_* are float32 [C] on x's device, as cuDNN wants.
#include "../core/backend.h"
#include "args.h"
#include "ops.h"
#include "tensor_handle.h"

namespace crjs {

namespace {

void expect_channel_param(const char* op, const char* name, const cr::Tensor& t, const cr::Tensor& x) {
  expect_same_device(op, name, t, "x", x);
  expect_dtype(op, name, t, cr::DType::F32);
  expect_shape(op, name, t, {x.shape[1]});
}

const cr::Tensor& read_x(const Args& a, size_t i, const char* name) {
  const cr::Tensor& x = a.tensor(i, name);
  expect_rank(a.op(), name, x, 4);
  expect_floating(a.op(), name, x);
  return x;
}

double read_eps(const Args& a, size_t i) {
  double eps = a.number(i, "eps");
  if (!(eps > 0)) cr::throw_range(a.op(), "eps", "must be > 0, got " + std::to_string(eps));
  return eps;
}

const cr::Tensor* read_residual(const Args& a, size_t i, const cr::Tensor& x) {
  const cr::Tensor* r = a.optional_tensor(i, "residual");
  if (r) expect_like(a.op(), "residual", *r, "x", x);
  return r;
}

// A negative variance has no square root: refused where reading it is free (host memory).
// On a GPU the check would cost a device-to-host copy per call, so it is not made there;
// docs/errors.md says so.
void expect_nonnegative_variance(const char* op, const cr::Tensor& var) {
  if (var.device().type != cr::DeviceType::CPU) return;
  const float* v = var.data<float>();
  for (int64_t c = 0; c < var.numel(); c++)
    if (v[c] < 0)
      cr::throw_range(
          op, "runningVar",
          "must be >= 0 (it is a variance), got " + std::to_string(v[c]) + " at channel " + std::to_string(c));
}

}  // namespace

Napi::Value BatchNormForwardTraining(const Napi::CallbackInfo& info) {
  Args a(info, "batchNormForwardTraining", 9);
  const cr::Tensor& x = read_x(a, 0, "x");
  const char* names[] = {"gamma", "beta", "runningMean", "runningVar"};
  for (size_t k = 0; k < 4; k++) expect_channel_param(a.op(), names[k], a.tensor(1 + k, names[k]), x);
  double momentum = a.number(5, "momentum");
  if (momentum < 0 || momentum > 1)
    cr::throw_range(a.op(), "momentum", "must be in [0, 1], got " + std::to_string(momentum));
  double eps = read_eps(a, 6);
  const cr::Tensor* residual = read_residual(a, 7, x);
  bool relu = a.boolean(8, "relu");
  // The running statistics are updated in place: no other argument may share their storage.
  expect_no_alias(a.op(), {{&x, "x", false},
                           {&a.tensor(1, "gamma"), "gamma", false},
                           {&a.tensor(2, "beta"), "beta", false},
                           {&a.tensor(3, "runningMean"), "runningMean", true},
                           {&a.tensor(4, "runningVar"), "runningVar", true},
                           {residual, "residual", false}});
  // The running variance is unbiased (divides by N*H*W - 1), PyTorch's rule as well.
  if (x.shape[0] * x.shape[2] * x.shape[3] < 2)
    cr::throw_range(a.op(), "x", "needs more than 1 value per channel when training, got " + x.describe());
  cr::BatchNormForward r =
      cr::backend_for(x.device())
          .batchnorm_forward_training(x, a.tensor(1, "gamma"), a.tensor(2, "beta"), a.tensor(3, "runningMean"),
                                      a.tensor(4, "runningVar"), momentum, eps, residual, relu);
  Napi::Object o = Napi::Object::New(a.env());
  o.Set("y", TensorHandle::Wrap(a.env(), r.y));
  o.Set("saveMean", TensorHandle::Wrap(a.env(), r.save_mean));
  o.Set("saveInvStd", TensorHandle::Wrap(a.env(), r.save_invstd));
  o.Set("reserve", r.reserve.defined() ? TensorHandle::Wrap(a.env(), r.reserve) : a.env().Null());
  return o;
}

Napi::Value BatchNormForwardInference(const Napi::CallbackInfo& info) {
  Args a(info, "batchNormForwardInference", 8);
  const cr::Tensor& x = read_x(a, 0, "x");
  const char* names[] = {"gamma", "beta", "runningMean", "runningVar"};
  for (size_t k = 0; k < 4; k++) expect_channel_param(a.op(), names[k], a.tensor(1 + k, names[k]), x);
  double eps = read_eps(a, 5);
  const cr::Tensor* residual = read_residual(a, 6, x);
  bool relu = a.boolean(7, "relu");
  expect_nonnegative_variance(a.op(), a.tensor(4, "runningVar"));
  return TensorHandle::Wrap(a.env(), cr::backend_for(x.device())
                                         .batchnorm_forward_inference(x, a.tensor(1, "gamma"), a.tensor(2, "beta"),
                                                                      a.tensor(3, "runningMean"),
                                                                      a.tensor(4, "runningVar"), eps, residual, relu));
}

Napi::Value BatchNormBackward(const Napi::CallbackInfo& info) {
  Args a(info, "batchNormBackward", 9, 11);
  const cr::Tensor& dy = read_x(a, 0, "dy");
  const cr::Tensor& x = a.tensor(1, "x");
  expect_like(a.op(), "x", x, "dy", dy);
  const char* names[] = {"gamma", "saveMean", "saveInvStd"};
  for (size_t k = 0; k < 3; k++) expect_channel_param(a.op(), names[k], a.tensor(2 + k, names[k]), x);
  double eps = read_eps(a, 5);
  const cr::Tensor* y = a.optional_tensor(6, "y");
  bool relu = a.boolean(7, "relu");
  bool has_residual = a.boolean(8, "hasResidual");
  if (relu && !y) cr::throw_type(a.op(), "y", "is required when relu is true (the activation's mask comes from y)");
  if (y) expect_like(a.op(), "y", *y, "x", x);
  const cr::Tensor* beta = a.optional_tensor(9, "beta");
  const cr::Tensor* reserve = a.optional_tensor(10, "reserve");
  if (beta) expect_channel_param(a.op(), "beta", *beta, x);
  if (reserve) {
    if (!beta) cr::throw_type(a.op(), "beta", "is required with a reserve (the fused backward reads it)");
    expect_dtype(a.op(), "reserve", *reserve, cr::DType::U8);
    expect_rank(a.op(), "reserve", *reserve, 1);
    expect_same_device(a.op(), "reserve", *reserve, "x", x);
  }
  cr::BatchNormBackward r =
      cr::backend_for(x.device())
          .batchnorm_backward(dy, x, a.tensor(2, "gamma"), a.tensor(3, "saveMean"), a.tensor(4, "saveInvStd"), eps, y,
                              relu, has_residual, beta, reserve);
  Napi::Object o = Napi::Object::New(a.env());
  o.Set("dx", TensorHandle::Wrap(a.env(), r.dx));
  o.Set("dgamma", TensorHandle::Wrap(a.env(), r.dgamma));
  o.Set("dbeta", TensorHandle::Wrap(a.env(), r.dbeta));
  if (has_residual) o.Set("dresidual", TensorHandle::Wrap(a.env(), r.dresidual));
  return o;
}

}  // namespace crjs
