// In-place fills. Random fills draw element i (in memory order) from the counter-based
// Philox4x32-10 stream of core/philox.h, so a (seed, index) pair gives the same value on
// every backend and for any thread split. Values are computed in double and converted to
// the tensor's dtype on store.
#include <algorithm>
#include <cfloat>
#include <cmath>

#include "../core/philox.h"
#include "cpu_backend.h"
#include "parallel.h"

namespace cr {

namespace {

constexpr int64_t kGrain = 1 << 14;

template <typename F>
void fill_with(const Tensor& t, F value_at) {
  parallel_for(t.numel(), kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) store_float(t, i, static_cast<float>(value_at(i)));
  });
}

}  // namespace

void CpuBackend::fill_constant_(const Tensor& t, double value) {
  // full() reaches here with any finite double, so out-of-range values are brought into
  // range explicitly (a C++ conversion that overflows its target is undefined behaviour):
  // integers are truncated and clamped, floats beyond fp32 become +-Inf.
  if (t.dtype == DType::I32 || t.dtype == DType::U8) {
    value = std::trunc(value);
    value = t.dtype == DType::U8 ? std::clamp(value, 0.0, 255.0) : std::clamp(value, -2147483648.0, 2147483647.0);
  }
  if (t.dtype == DType::I32) {  // stored directly: the float path would round above 2^24
    int32_t* p = t.data<int32_t>();
    const int32_t v = static_cast<int32_t>(value);
    parallel_for(t.numel(), kGrain, [&](int64_t b, int64_t e) { std::fill(p + b, p + e, v); });
    return;
  }
  const float v = std::fabs(value) > FLT_MAX ? std::copysign(INFINITY, static_cast<float>(value > 0 ? 1 : -1))
                                             : static_cast<float>(value);
  if (t.dtype == DType::F32) {
    float* p = t.data<float>();
    parallel_for(t.numel(), kGrain, [&](int64_t b, int64_t e) { std::fill(p + b, p + e, v); });
    return;
  }
  fill_with(t, [v](int64_t) { return v; });
}

void CpuBackend::fill_uniform_(const Tensor& t, double low, double high, uint64_t seed) {
  fill_with(t, [=](int64_t i) { return low + (high - low) * philox_uniform(seed, static_cast<uint64_t>(i)); });
}

void CpuBackend::fill_normal_(const Tensor& t, double mean, double std, uint64_t seed) {
  if (t.dtype != DType::F32) {
    fill_with(t, [=](int64_t i) { return mean + std * philox_normal(seed, static_cast<uint64_t>(i)); });
    return;
  }
  // Elements 2k and 2k+1 share one Philox block and one Box-Muller draw: compute the pair
  // together (same values as philox_normal element by element, half the work).
  float* p = t.data<float>();
  const int64_t n = t.numel();
  parallel_for((n + 1) / 2, kGrain / 2, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; k++) {
      float pair[2];
      philox_normal_pair(seed, static_cast<uint64_t>(k), pair);
      p[2 * k] = static_cast<float>(mean + std * pair[0]);
      if (2 * k + 1 < n) p[2 * k + 1] = static_cast<float>(mean + std * pair[1]);
    }
  });
}

}  // namespace cr
