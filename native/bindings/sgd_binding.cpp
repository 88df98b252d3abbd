// sgdUpdate(params, grads, bufs, lr, momentum, dampening, weightDecay, nesterov, firstStep
//           [, lrDevice, skipFlag]):
// one in-place SGD step over many float32 tensors on one device. bufs holds one momentum
// buffer per parameter, or may be empty when momentum is 0. The hyper-parameter checks
// are torch.optim.SGD's, reported as RangeError. lrDevice ([1] float32) replaces lr, and
// skipFlag (float32, element 0 non-zero: skip) makes the update conditional, both read on
// the device when the update runs (see SgdParams).
#include <string>

#include "../core/backend.h"
#include "args.h"
#include "ops.h"

namespace crjs {

Napi::Value SgdUpdate(const Napi::CallbackInfo& info) {
  Args a(info, "sgdUpdate", 9, 11);
  const char* op = a.op();
  std::vector<cr::Tensor> params = a.tensor_list(0, "params");
  std::vector<cr::Tensor> grads = a.tensor_list(1, "grads");
  std::vector<cr::Tensor> bufs = a.tensor_list(2, "bufs");
  cr::SgdParams p;
  double lr = a.number(3, "lr"), momentum = a.number(4, "momentum"), dampening = a.number(5, "dampening");
  double weight_decay = a.number(6, "weightDecay");
  p.nesterov = a.boolean(7, "nesterov");
  p.first_step = a.boolean(8, "firstStep");
  if (lr < 0) cr::throw_range(op, "lr", "must be >= 0, got " + std::to_string(lr));
  if (momentum < 0) cr::throw_range(op, "momentum", "must be >= 0, got " + std::to_string(momentum));
  if (weight_decay < 0) cr::throw_range(op, "weightDecay", "must be >= 0, got " + std::to_string(weight_decay));
  if (p.nesterov && (momentum <= 0 || dampening != 0))
    cr::throw_range(op, "nesterov",
                    "requires a momentum > 0 and zero dampening (got momentum " + std::to_string(momentum) +
                        ", dampening " + std::to_string(dampening) + ")");
  p.lr = static_cast<float>(lr);
  p.momentum = static_cast<float>(momentum);
  p.dampening = static_cast<float>(dampening);
  p.weight_decay = static_cast<float>(weight_decay);

  if (params.empty() && !grads.empty())
    cr::throw_range(op, "params",
                    "is empty, but grads has " + std::to_string(grads.size()) +
                        " tensors: pass the parameters the gradients belong to");
  if (grads.size() != params.size())
    cr::throw_range(op, "grads",
                    "must have one tensor per parameter (" + std::to_string(params.size()) + "), got " +
                        std::to_string(grads.size()));
  const bool need_bufs = momentum != 0;
  if (need_bufs ? bufs.size() != params.size() : !bufs.empty() && bufs.size() != params.size())
    cr::throw_range(op, "bufs",
                    "must have one tensor per parameter (" + std::to_string(params.size()) + ")" +
                        (need_bufs ? "" : " or be empty when momentum is 0") + ", got " + std::to_string(bufs.size()));
  if (params.empty()) return a.env().Undefined();
  const cr::Tensor& first = params[0];
  for (size_t i = 0; i < params.size(); i++) {
    std::string pn = "params[" + std::to_string(i) + "]", gn = "grads[" + std::to_string(i) + "]";
    expect_dtype(op, pn.c_str(), params[i], cr::DType::F32);
    expect_same_device(op, pn.c_str(), params[i], "params[0]", first);
    expect_like(op, gn.c_str(), grads[i], pn.c_str(), params[i]);
    if (need_bufs) {
      std::string bn = "bufs[" + std::to_string(i) + "]";
      expect_like(op, bn.c_str(), bufs[i], pn.c_str(), params[i]);
    }
  }
  if (!need_bufs) bufs.clear();
  {
    std::vector<TensorUse> uses;
    for (size_t i = 0; i < params.size(); i++) uses.push_back({&params[i], "params[" + std::to_string(i) + "]", true});
    for (size_t i = 0; i < grads.size(); i++) uses.push_back({&grads[i], "grads[" + std::to_string(i) + "]", false});
    for (size_t i = 0; i < bufs.size(); i++) uses.push_back({&bufs[i], "bufs[" + std::to_string(i) + "]", true});
    expect_no_alias(op, uses);
  }
  p.lr_device = a.optional_tensor(9, "lrDevice");
  p.skip_flag = a.optional_tensor(10, "skipFlag");
  expect_update_scalars(op, p.lr_device, p.skip_flag, first);
  cr::backend_for(first.device()).sgd_update_(params, grads, bufs, p);
  return a.env().Undefined();
}

}  // namespace crjs
