// Whole-tensor reductions for diagnostics and tests: sum and per-tensor L2 norms. They walk
// memory order (layout does not change a sum) and accumulate in double over fixed-size
// blocks added in order, so results do not depend on the number of threads.
#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu_backend.h"
#include "parallel.h"

namespace cr {

namespace {

constexpr int64_t kBlock = 1 << 14;

template <typename F>
double blocked_sum(const Tensor& x, F term) {
  const int64_t n = x.numel(), blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> part(static_cast<size_t>(blocks));
  parallel_for(blocks, 1, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; k++) {
      double s = 0;
      const int64_t end = std::min(n, (k + 1) * kBlock);
      if (x.dtype == DType::F32) {
        const float* p = x.data<float>();
        for (int64_t i = k * kBlock; i < end; i++) s += term(p[i]);
      } else {
        for (int64_t i = k * kBlock; i < end; i++) s += term(load_float(x, i));
      }
      part[k] = s;
    }
  });
  double total = 0;
  for (double s : part) total += s;
  return total;
}

}  // namespace

Tensor CpuBackend::sum(const Tensor& x) {
  Tensor out = empty({1}, DType::F32, Layout::NCHW);
  out.data<float>()[0] = static_cast<float>(blocked_sum(x, [](float v) { return static_cast<double>(v); }));
  return out;
}

Tensor CpuBackend::l2_norms(const std::vector<Tensor>& xs) {
  Tensor out = empty({static_cast<int64_t>(xs.size())}, DType::F32, Layout::NCHW);
  for (size_t k = 0; k < xs.size(); k++) {
    double ss = blocked_sum(xs[k], [](float v) { return static_cast<double>(v) * v; });
    out.data<float>()[k] = static_cast<float>(std::sqrt(ss));
  }
  return out;
}

}  // namespace cr
