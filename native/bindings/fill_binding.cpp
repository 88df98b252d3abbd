// In-place fills. Random fills take a seed that is an integer in [0, 2^53) (every such
// number is exact in JS) and use the counter-based Philox stream, so (seed, element index)
// fixes each value on every device. fillConstant serves every dtype; the random fills
// serve float dtypes and store their fp32 value converted.
#include <cfloat>
#include <cmath>
#include <string>

#include "../core/backend.h"
#include "args.h"
#include "ops.h"

namespace crjs {

namespace {

constexpr int64_t kMaxSeed = (int64_t{1} << 53) - 1;

const cr::Tensor& float_target(const Args& a) {
  const cr::Tensor& t = a.tensor(0, "t");
  expect_floating(a.op(), "t", t);
  return t;
}

uint64_t read_seed(const Args& a, size_t i) { return static_cast<uint64_t>(a.integer(i, "seed", 0, kMaxSeed)); }

// Largest finite magnitude of each float dtype: beyond it a value would become Inf.
double dtype_max(cr::DType t) {
  switch (t) {
    case cr::DType::F16: return 65504.0;
    case cr::DType::BF16: return 3.3895313892515355e38;
    default: return FLT_MAX;
  }
}

void expect_representable(const Args& a, const char* name, double v, cr::DType t) {
  if (std::fabs(v) > dtype_max(t))
    cr::throw_range(a.op(), name,
                    "is outside the finite range of " + std::string(cr::dtype_name(t)) + ", got " + std::to_string(v));
}

}  // namespace

Napi::Value FillConstant(const Napi::CallbackInfo& info) {
  Args a(info, "fillConstant", 2);
  const cr::Tensor& t = a.tensor(0, "t");
  double value;
  if (t.dtype == cr::DType::I32)
    value = static_cast<double>(a.integer(1, "value", INT32_MIN, INT32_MAX));
  else if (t.dtype == cr::DType::U8)
    value = static_cast<double>(a.integer(1, "value", 0, 255));
  else {
    value = a.number(1, "value");
    expect_representable(a, "value", value, t.dtype);
  }
  cr::backend_for(t.device()).fill_constant_(t, value);
  return a.env().Undefined();
}

Napi::Value FillUniform(const Napi::CallbackInfo& info) {
  Args a(info, "fillUniform", 4);
  const cr::Tensor& t = float_target(a);
  double low = a.number(1, "low"), high = a.number(2, "high");
  uint64_t seed = read_seed(a, 3);
  if (low > high)
    cr::throw_range(a.op(), "high", "must be >= low (" + std::to_string(low) + "), got " + std::to_string(high));
  expect_representable(a, "low", low, cr::DType::F32);
  expect_representable(a, "high", high, cr::DType::F32);
  cr::backend_for(t.device()).fill_uniform_(t, low, high, seed);
  return a.env().Undefined();
}

Napi::Value FillNormal(const Napi::CallbackInfo& info) {
  Args a(info, "fillNormal", 4);
  const cr::Tensor& t = float_target(a);
  double mean = a.number(1, "mean"), stdev = a.number(2, "std");
  uint64_t seed = read_seed(a, 3);
  if (stdev < 0) cr::throw_range(a.op(), "std", "must be >= 0, got " + std::to_string(stdev));
  expect_representable(a, "mean", mean, cr::DType::F32);
  expect_representable(a, "std", stdev, cr::DType::F32);
  cr::backend_for(t.device()).fill_normal_(t, mean, stdev, seed);
  return a.env().Undefined();
}

// He et al. 2015 (arXiv 1502.01852): std = gain / sqrt(fan) with, for a weight
// [out, in, kh, kw] (or [out, in]), fan_in = in * kh * kw and fan_out = out * kh * kw.
Napi::Value FillKaimingNormal(const Napi::CallbackInfo& info) {
  Args a(info, "fillKaimingNormal", 4);
  const cr::Tensor& t = float_target(a);
  if (t.rank() != 2 && t.rank() != 4)
    cr::throw_range(a.op(), "t", "must be a 2-D [out, in] or 4-D [out, in, kh, kw] weight, got " + t.describe());
  std::string mode = a.string(1, "mode");
  if (mode != "fan_in" && mode != "fan_out")
    cr::throw_type(a.op(), "mode", "must be 'fan_in' or 'fan_out'; got '" + mode + "'");
  double gain = a.number(2, "gain");
  if (gain < 0) cr::throw_range(a.op(), "gain", "must be >= 0, got " + std::to_string(gain));
  uint64_t seed = read_seed(a, 3);
  const double receptive = t.rank() == 4 ? static_cast<double>(t.shape[2] * t.shape[3]) : 1.0;
  const double fan = (mode == "fan_in" ? t.shape[1] : t.shape[0]) * receptive;
  const double stdev = gain / std::sqrt(fan);
  expect_representable(a, "gain", stdev, cr::DType::F32);
  cr::backend_for(t.device()).fill_normal_(t, 0.0, stdev, seed);
  return a.env().Undefined();
}

}  // namespace crjs
