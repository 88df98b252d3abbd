// softmax / log-softmax along one axis, in fp32 over the logical row-major order. Each
// (outer, inner) line subtracts its max before exponentiating (so large logits do not
// overflow) and accumulates its sums in double.
#include <algorithm>
#include <cmath>

#include "cpu_backend.h"
#include "parallel.h"

namespace cr {

namespace {

constexpr int64_t kGrainElems = 1 << 14;

// Calls line(base) for every line along `axis`: its elements are base + j * inner.
template <typename F>
void for_each_line(const AxisSplit& sp, F line) {
  parallel_for(sp.outer * sp.inner, std::max<int64_t>(1, kGrainElems / sp.n), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; t++) line((t / sp.inner) * sp.n * sp.inner + t % sp.inner);
  });
}

}  // namespace

Tensor CpuBackend::softmax_forward(const Tensor& x, int axis, bool log) {
  const AxisSplit sp = split_at(x.shape, axis);
  std::vector<float> hx;
  const float* xp = f32_view(x, hx);
  F32Result y(*this, x.shape, x.dtype, Layout::NCHW);
  float* yp = y.data();
  for_each_line(sp, [&](int64_t base) {
    float m = -INFINITY;
    for (int64_t j = 0; j < sp.n; j++) m = std::max(m, xp[base + j * sp.inner]);
    if (std::isinf(m) && m < 0) m = 0;  // a line of -inf: exp gives 0s, the sum 0, the result NaN as in PyTorch
    double s = 0;
    for (int64_t j = 0; j < sp.n; j++) s += std::exp(static_cast<double>(xp[base + j * sp.inner] - m));
    const double ls = std::log(s);
    for (int64_t j = 0; j < sp.n; j++) {
      const int64_t k = base + j * sp.inner;
      const double z = static_cast<double>(xp[k] - m);
      yp[k] = static_cast<float>(log ? z - ls : std::exp(z - ls));
    }
  });
  return y.finish();
}

Tensor CpuBackend::softmax_backward(const Tensor& dy, const Tensor& y, int axis, bool log) {
  const AxisSplit sp = split_at(y.shape, axis);
  std::vector<float> hg, hy;
  const float* gp = f32_view(dy, hg);
  const float* yp = f32_view(y, hy);
  F32Result dx(*this, y.shape, dy.dtype, Layout::NCHW);
  float* dp = dx.data();
  for_each_line(sp, [&](int64_t base) {
    double s = 0;
    for (int64_t j = 0; j < sp.n; j++) {
      const int64_t k = base + j * sp.inner;
      s += log ? static_cast<double>(gp[k]) : static_cast<double>(gp[k]) * yp[k];
    }
    for (int64_t j = 0; j < sp.n; j++) {
      const int64_t k = base + j * sp.inner;
      dp[k] = static_cast<float>(log ? gp[k] - std::exp(static_cast<double>(yp[k])) * s : yp[k] * (gp[k] - s));
    }
  });
  return dx.finish();
}

}  // namespace cr
