// adamwUpdate(params, grads, expAvgs, expAvgSqs, maxExpAvgSqs, steps, lr, beta1, beta2, eps,
//             weightDecay, amsgrad [, lrDevice, skipFlag]):
// one in-place AdamW step over many float32 tensors on one device (torch.optim.AdamW).
// Per parameter: its gradient, two moment buffers, a third (maxExpAvgSqs) only with amsgrad
// (else that list is empty), and a [1] float32 step count the update increments. The
// hyper-parameter checks are torch.optim.AdamW's, reported as RangeError. lrDevice and
// skipFlag are read on the device when the update runs, as in sgdUpdate.
#include <string>

#include "../core/backend.h"
#include "args.h"
#include "ops.h"

namespace crjs {

namespace {

void expect_one_per_param(const char* op, const char* name, size_t got, size_t params, const char* otherwise = "") {
  if (got != params)
    cr::throw_range(op, name,
                    "must have one tensor per parameter (" + std::to_string(params) + ")" + otherwise + ", got " +
                        std::to_string(got));
}

}  // namespace

Napi::Value AdamwUpdate(const Napi::CallbackInfo& info) {
  Args a(info, "adamwUpdate", 12, 14);
  const char* op = a.op();
  std::vector<cr::Tensor> params = a.tensor_list(0, "params");
  std::vector<cr::Tensor> grads = a.tensor_list(1, "grads");
  std::vector<cr::Tensor> exp_avgs = a.tensor_list(2, "expAvgs");
  std::vector<cr::Tensor> exp_avg_sqs = a.tensor_list(3, "expAvgSqs");
  std::vector<cr::Tensor> max_exp_avg_sqs = a.tensor_list(4, "maxExpAvgSqs");
  std::vector<cr::Tensor> steps = a.tensor_list(5, "steps");
  cr::AdamwParams p;
  const double lr = a.number(6, "lr");
  p.beta1 = a.number(7, "beta1");
  p.beta2 = a.number(8, "beta2");
  p.eps = a.number(9, "eps");
  p.weight_decay = a.number(10, "weightDecay");
  p.amsgrad = a.boolean(11, "amsgrad");
  if (lr < 0) cr::throw_range(op, "lr", "must be >= 0, got " + std::to_string(lr));
  if (p.beta1 < 0 || p.beta1 >= 1) cr::throw_range(op, "beta1", "must lie in [0, 1), got " + std::to_string(p.beta1));
  if (p.beta2 < 0 || p.beta2 >= 1) cr::throw_range(op, "beta2", "must lie in [0, 1), got " + std::to_string(p.beta2));
  if (p.eps < 0) cr::throw_range(op, "eps", "must be >= 0, got " + std::to_string(p.eps));
  if (p.weight_decay < 0) cr::throw_range(op, "weightDecay", "must be >= 0, got " + std::to_string(p.weight_decay));
  p.lr = static_cast<float>(lr);

  if (params.empty() && !grads.empty())
    cr::throw_range(op, "params",
                    "is empty, but grads has " + std::to_string(grads.size()) +
                        " tensors: pass the parameters the gradients belong to");
  const size_t n = params.size();
  expect_one_per_param(op, "grads", grads.size(), n);
  expect_one_per_param(op, "expAvgs", exp_avgs.size(), n);
  expect_one_per_param(op, "expAvgSqs", exp_avg_sqs.size(), n);
  if (p.amsgrad)
    expect_one_per_param(op, "maxExpAvgSqs", max_exp_avg_sqs.size(), n, " with amsgrad");
  else if (!max_exp_avg_sqs.empty())
    cr::throw_range(op, "maxExpAvgSqs",
                    "must be empty without amsgrad, got " + std::to_string(max_exp_avg_sqs.size()) + " tensors");
  expect_one_per_param(op, "steps", steps.size(), n);
  if (params.empty()) return a.env().Undefined();

  const cr::Tensor& first = params[0];
  std::vector<TensorUse> uses;
  auto name = [](const char* list, size_t i) { return std::string(list) + "[" + std::to_string(i) + "]"; };
  for (size_t i = 0; i < n; i++) {
    std::string pn = name("params", i);
    expect_dtype(op, pn.c_str(), params[i], cr::DType::F32);
    expect_same_device(op, pn.c_str(), params[i], "params[0]", first);
    expect_like(op, name("grads", i).c_str(), grads[i], pn.c_str(), params[i]);
    expect_like(op, name("expAvgs", i).c_str(), exp_avgs[i], pn.c_str(), params[i]);
    expect_like(op, name("expAvgSqs", i).c_str(), exp_avg_sqs[i], pn.c_str(), params[i]);
    if (p.amsgrad) expect_like(op, name("maxExpAvgSqs", i).c_str(), max_exp_avg_sqs[i], pn.c_str(), params[i]);
    std::string sn = name("steps", i);
    expect_dtype(op, sn.c_str(), steps[i], cr::DType::F32);
    expect_shape(op, sn.c_str(), steps[i], {1});
    expect_same_device(op, sn.c_str(), steps[i], "params[0]", first);
  }
  for (size_t i = 0; i < n; i++) {
    uses.push_back({&params[i], name("params", i), true});
    uses.push_back({&grads[i], name("grads", i), false});
    uses.push_back({&exp_avgs[i], name("expAvgs", i), true});
    uses.push_back({&exp_avg_sqs[i], name("expAvgSqs", i), true});
    if (p.amsgrad) uses.push_back({&max_exp_avg_sqs[i], name("maxExpAvgSqs", i), true});
    uses.push_back({&steps[i], name("steps", i), true});
  }
  expect_no_alias(op, uses);

  p.lr_device = a.optional_tensor(12, "lrDevice");
  p.skip_flag = a.optional_tensor(13, "skipFlag");
  expect_update_scalars(op, p.lr_device, p.skip_flag, first);
  cr::backend_for(first.device()).adamw_update_(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, p);
  return a.env().Undefined();
}

}  // namespace crjs
