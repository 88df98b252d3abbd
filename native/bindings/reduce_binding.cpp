// sum(x) -> [1] float32; l2Norms(xs) -> [n] float32, one L2 norm per tensor. Inputs may be
// any float dtype and layout; a list must be non-empty and on one device.
#include <string>

#include "../core/backend.h"
#include "args.h"
#include "ops.h"
#include "tensor_handle.h"

namespace crjs {

Napi::Value Sum(const Napi::CallbackInfo& info) {
  Args a(info, "sum", 1);
  const cr::Tensor& x = a.tensor(0, "x");
  expect_floating(a.op(), "x", x);
  return TensorHandle::Wrap(a.env(), cr::backend_for(x.device()).sum(x));
}

Napi::Value L2Norms(const Napi::CallbackInfo& info) {
  Args a(info, "l2Norms", 1);
  std::vector<cr::Tensor> xs = a.tensor_list(0, "xs");
  if (xs.empty()) cr::throw_range(a.op(), "xs", "must hold at least one tensor");
  for (size_t i = 0; i < xs.size(); i++) {
    std::string n = "xs[" + std::to_string(i) + "]";
    expect_floating(a.op(), n.c_str(), xs[i]);
    expect_same_device(a.op(), n.c_str(), xs[i], "xs[0]", xs[0]);
  }
  return TensorHandle::Wrap(a.env(), cr::backend_for(xs[0].device()).l2_norms(xs));
}

}  // namespace crjs
