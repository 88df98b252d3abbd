// Dynamic loss scaling, device-resident (see Backend::amp_unscale_ / amp_update_scale_):
//   ampUnscale(grads, scale, state)
//   ampUpdateScale(scale, state, growthFactor, backoffFactor, growthInterval)
// scale is [1] float32, state [3] float32 {found_inf, good_steps, skipped_steps}, grads
// float32, all on one device.
#include <cmath>
#include <string>

#include "../core/backend.h"
#include "args.h"
#include "ops.h"

namespace crjs {
namespace {

void expect_scalars(const char* op, const cr::Tensor& scale, const cr::Tensor& state) {
  expect_dtype(op, "scale", scale, cr::DType::F32);
  expect_shape(op, "scale", scale, {1});
  expect_dtype(op, "state", state, cr::DType::F32);
  expect_shape(op, "state", state, {3});
  expect_same_device(op, "state", state, "scale", scale);
}

}  // namespace

Napi::Value AmpUnscale(const Napi::CallbackInfo& info) {
  Args a(info, "ampUnscale", 3);
  const char* op = a.op();
  std::vector<cr::Tensor> grads = a.tensor_list(0, "grads");
  const cr::Tensor& scale = a.tensor(1, "scale");
  const cr::Tensor& state = a.tensor(2, "state");
  expect_scalars(op, scale, state);
  for (size_t i = 0; i < grads.size(); i++) {
    std::string gn = "grads[" + std::to_string(i) + "]";
    expect_dtype(op, gn.c_str(), grads[i], cr::DType::F32);
    expect_same_device(op, gn.c_str(), grads[i], "scale", scale);
  }
  std::vector<TensorUse> uses{{&scale, "scale", false}, {&state, "state", true}};
  for (size_t i = 0; i < grads.size(); i++) uses.push_back({&grads[i], "grads[" + std::to_string(i) + "]", true});
  expect_no_alias(op, uses);
  // Unscaling multiplies by 1 / scale: a zero or non-finite scale would turn every gradient
  // into inf or NaN. Checked where the value is on the host; a device scale is not read
  // (that would stall the stream every step), as docs/errors.md says.
  if (scale.device().type == cr::DeviceType::CPU) {
    float s = scale.data<float>()[0];
    if (!(std::isfinite(s) && s > 0)) cr::throw_range(op, "scale", "must be finite and > 0, got " + std::to_string(s));
  }
  cr::backend_for(scale.device()).amp_unscale_(grads, scale, state);
  return a.env().Undefined();
}

Napi::Value AmpUpdateScale(const Napi::CallbackInfo& info) {
  Args a(info, "ampUpdateScale", 5);
  const char* op = a.op();
  const cr::Tensor& scale = a.tensor(0, "scale");
  const cr::Tensor& state = a.tensor(1, "state");
  expect_scalars(op, scale, state);
  cr::LossScaleParams p;
  double growth = a.number(2, "growthFactor"), backoff = a.number(3, "backoffFactor");
  // GradScaler's rules: growth above 1, backoff in (0, 1).
  if (!(growth > 1)) cr::throw_range(op, "growthFactor", "must be > 1, got " + std::to_string(growth));
  if (!(backoff > 0 && backoff < 1))
    cr::throw_range(op, "backoffFactor", "must be in (0, 1), got " + std::to_string(backoff));
  p.growth_factor = static_cast<float>(growth);
  p.backoff_factor = static_cast<float>(backoff);
  p.growth_interval = static_cast<int>(a.integer(4, "growthInterval", 1, 1 << 24));
  expect_no_alias(op, {{&scale, "scale", true}, {&state, "state", true}});
  cr::backend_for(scale.device()).amp_update_scale_(scale, state, p);
  return a.env().Undefined();
}

}  // namespace crjs
