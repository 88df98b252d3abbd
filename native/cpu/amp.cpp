// Dynamic loss scaling on the CPU backend: the twin of cuda/kernels/amp.cu, with the
// same rounding (one reciprocal, one product per element), so both backends agree bitwise.
#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu_backend.h"
#include "parallel.h"

namespace cr {

void CpuBackend::amp_unscale_(const std::vector<Tensor>& grads, const Tensor& scale, const Tensor& state) {
  const float inv = 1.f / scale.data<float>()[0];
  bool found = false;
  for (const Tensor& g : grads) {
    float* p = g.data<float>();
    int64_t n = g.numel();
    // Each range reports its own finding; the flag is an OR, so the partition cannot change it.
    std::vector<char> bad(static_cast<size_t>(std::max<int64_t>(1, (n + 32767) / 32768)), 0);
    parallel_for(static_cast<int64_t>(bad.size()), 1, [&](int64_t lo, int64_t hi) {
      for (int64_t k = lo; k < hi; k++) {
        int64_t end = std::min(n, (k + 1) * 32768);
        for (int64_t i = k * 32768; i < end; i++) {
          if (!std::isfinite(p[i])) bad[k] = 1;
          p[i] *= inv;
        }
      }
    });
    for (char b : bad) found = found || b;
  }
  state.data<float>()[0] = found ? 1.f : 0.f;
}

void CpuBackend::amp_update_scale_(const Tensor& scale, const Tensor& state, const LossScaleParams& p) {
  float* s = scale.data<float>();
  float* st = state.data<float>();
  if (st[0] != 0.f) {
    s[0] *= p.backoff_factor;
    st[1] = 0.f;
    st[2] += 1.f;
    return;
  }
  float good = st[1] + 1.f;
  if (good >= static_cast<float>(p.growth_interval)) {
    float grown = s[0] * p.growth_factor;
    if (std::isfinite(grown)) s[0] = grown;
    good = 0.f;
  }
  st[1] = good;
}

}  // namespace cr
