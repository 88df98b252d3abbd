// linearForward / BackwardData / BackwardWeight / BackwardBias: y[N, M] = x[N, K] w[M, K]^T
// + b. The operands are 2-D float tensors on one device with one dtype; the bias may be
// any float dtype (fp32 master bias with half-precision activations).
#include <string>

#include "../core/backend.h"
#include "../core/errors.h"
#include "args.h"
#include "ops.h"
#include "tensor_handle.h"

namespace crjs {

namespace {

void expect_matrix(const char* op, const char* name, const cr::Tensor& t) {
  expect_rank(op, name, t, 2);
  expect_floating(op, name, t);
}

// A second matrix operand: same device and dtype as ref.
void expect_companion(const char* op, const char* name, const cr::Tensor& t, const char* ref_name,
                      const cr::Tensor& ref) {
  expect_matrix(op, name, t);
  expect_same_device(op, name, t, ref_name, ref);
  if (t.dtype != ref.dtype)
    cr::throw_type(
        op, name,
        "must have the dtype of '" + std::string(ref_name) + "' (" + ref.describe() + "), got " + t.describe());
}

// t.shape[dim] must equal ref.shape[ref_dim].
void expect_dim(const char* op, const char* name, const cr::Tensor& t, int dim, const char* ref_name,
                const cr::Tensor& ref, int ref_dim) {
  if (t.shape[dim] != ref.shape[ref_dim])
    cr::throw_range(op, name,
                    "must have size " + std::to_string(ref.shape[ref_dim]) + " in dimension " + std::to_string(dim) +
                        " to match '" + ref_name + "' " + cr::shape_str(ref.shape) + ", got " + cr::shape_str(t.shape));
}

Napi::Value wrap(const Args& a, cr::Tensor t) { return TensorHandle::Wrap(a.env(), std::move(t)); }

}  // namespace

Napi::Value LinearForward(const Napi::CallbackInfo& info) {
  Args a(info, "linearForward", 3);
  const cr::Tensor& x = a.tensor(0, "x");
  const cr::Tensor& w = a.tensor(1, "w");
  const cr::Tensor* bias = a.optional_tensor(2, "bias");
  expect_matrix(a.op(), "x", x);
  expect_companion(a.op(), "w", w, "x", x);
  expect_dim(a.op(), "w", w, 1, "x", x, 1);
  if (bias) {
    expect_rank(a.op(), "bias", *bias, 1);
    expect_floating(a.op(), "bias", *bias);
    expect_same_device(a.op(), "bias", *bias, "x", x);
    expect_shape(a.op(), "bias", *bias, {w.shape[0]});
  }
  return wrap(a, cr::backend_for(x.device()).linear_forward(x, w, bias));
}

Napi::Value LinearBackwardData(const Napi::CallbackInfo& info) {
  Args a(info, "linearBackwardData", 2);
  const cr::Tensor& dy = a.tensor(0, "dy");
  const cr::Tensor& w = a.tensor(1, "w");
  expect_matrix(a.op(), "dy", dy);
  expect_companion(a.op(), "w", w, "dy", dy);
  expect_dim(a.op(), "w", w, 0, "dy", dy, 1);
  return wrap(a, cr::backend_for(dy.device()).linear_backward_data(dy, w));
}

Napi::Value LinearBackwardWeight(const Napi::CallbackInfo& info) {
  Args a(info, "linearBackwardWeight", 2);
  const cr::Tensor& dy = a.tensor(0, "dy");
  const cr::Tensor& x = a.tensor(1, "x");
  expect_matrix(a.op(), "dy", dy);
  expect_companion(a.op(), "x", x, "dy", dy);
  expect_dim(a.op(), "x", x, 0, "dy", dy, 0);
  return wrap(a, cr::backend_for(dy.device()).linear_backward_weight(dy, x));
}

Napi::Value LinearBackwardBias(const Napi::CallbackInfo& info) {
  Args a(info, "linearBackwardBias", 1);
  const cr::Tensor& dy = a.tensor(0, "dy");
  expect_matrix(a.op(), "dy", dy);
  return wrap(a, cr::backend_for(dy.device()).linear_backward_bias(dy));
}

}  // namespace crjs
