// Whole-tensor reductions for diagnostics and tests: sum and per-tensor L2 norms. They walk
// memory order (layout does not change a sum) and accumulate in double over fixed-size
// blocks added in order, so results do not depend on the number of threads.
// Then the reductions over axes of the tensor-math API (sum/mean, max, topk, and the
// scatter-add that is the backward of max and topk), in logical row-major order; each
// output element is summed by one thread in a fixed order, so they are deterministic too.
#include <algorithm>
#include <cmath>
#include <vector>

#include "../core/axes.h"

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

namespace {

// NaN counts as larger than every number (PyTorch's max/topk order); equal values keep
// index order, so the first occurrence comes first.
bool before_largest(float a, int64_t ia, float b, int64_t ib) {
  bool na = std::isnan(a), nb = std::isnan(b);
  if (na != nb) return na;
  if (!na && a != b) return a > b;
  return ia < ib;
}

bool before_smallest(float a, int64_t ia, float b, int64_t ib) {
  bool na = std::isnan(a), nb = std::isnan(b);
  if (na != nb) return nb;
  if (!na && a != b) return a < b;
  return ia < ib;
}

// `shape` with axis `axis` set to `size`, or removed when size is 0 (a removed last axis
// leaves [1]: tensors have at least one dimension).
Shape with_axis(const Shape& shape, int axis, int64_t size) {
  Shape s = shape;
  if (size > 0)
    s[axis] = size;
  else
    s.erase(s.begin() + axis);
  if (s.empty()) s.push_back(1);
  return s;
}

}  // namespace

Tensor CpuBackend::reduce_axes(const Tensor& x, const std::vector<int>& axes, bool keepdim, ReduceMode mode) {
  const int r = x.rank();
  std::vector<bool> reduced(r, false);
  for (int a : axes) reduced[a] = true;
  Shape stride(r, 1), kept_size, kept_stride, red_size, red_stride, out_shape;
  for (int k = r - 2; k >= 0; k--) stride[k] = stride[k + 1] * x.shape[k + 1];
  for (int k = 0; k < r; k++) {
    (reduced[k] ? red_size : kept_size).push_back(x.shape[k]);
    (reduced[k] ? red_stride : kept_stride).push_back(stride[k]);
    if (!reduced[k] || keepdim) out_shape.push_back(reduced[k] ? 1 : x.shape[k]);
  }
  if (out_shape.empty()) out_shape.push_back(1);
  const int64_t n_out = shape_numel(out_shape), n_red = x.numel() / n_out;
  std::vector<float> hx;
  const float* xp = f32_view(x, hx);
  F32Result y(*this, out_shape, x.dtype, Layout::NCHW);
  float* yp = y.data();
  auto offset = [](int64_t i, const Shape& size, const Shape& st) {
    int64_t off = 0;
    for (size_t k = size.size(); k-- > 0;) {
      off += (i % size[k]) * st[k];
      i /= size[k];
    }
    return off;
  };
  parallel_for(n_out, std::max<int64_t>(1, kBlock / n_red), [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; o++) {
      const int64_t base = offset(o, kept_size, kept_stride);
      double s = 0;
      for (int64_t q = 0; q < n_red; q++) s += xp[base + offset(q, red_size, red_stride)];
      yp[o] = static_cast<float>(mode == ReduceMode::Mean ? s / static_cast<double>(n_red) : s);
    }
  });
  return y.finish();
}

TensorPair CpuBackend::max_axis(const Tensor& x, int axis, bool keepdim) {
  const AxisSplit sp = split_at(x.shape, axis);
  std::vector<float> hx;
  const float* xp = f32_view(x, hx);
  const Shape out_shape = with_axis(x.shape, axis, keepdim ? 1 : 0);
  F32Result v(*this, out_shape, x.dtype, Layout::NCHW);
  Tensor idx = empty(out_shape, DType::I32, Layout::NCHW);
  float* vp = v.data();
  int32_t* ip = idx.data<int32_t>();
  parallel_for(sp.outer * sp.inner, std::max<int64_t>(1, kBlock / sp.n), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; t++) {
      const float* row = xp + (t / sp.inner) * sp.n * sp.inner + t % sp.inner;
      int64_t best = 0;
      for (int64_t j = 1; j < sp.n; j++)
        if (before_largest(row[j * sp.inner], j, row[best * sp.inner], best)) best = j;
      vp[t] = row[best * sp.inner];
      ip[t] = static_cast<int32_t>(best);
    }
  });
  return {v.finish(), idx};
}

TensorPair CpuBackend::topk(const Tensor& x, int64_t k, int axis, bool largest) {
  const AxisSplit sp = split_at(x.shape, axis);
  std::vector<float> hx;
  const float* xp = f32_view(x, hx);
  const Shape out_shape = with_axis(x.shape, axis, k);
  F32Result v(*this, out_shape, x.dtype, Layout::NCHW);
  Tensor idx = empty(out_shape, DType::I32, Layout::NCHW);
  float* vp = v.data();
  int32_t* ip = idx.data<int32_t>();
  parallel_for(sp.outer * sp.inner, std::max<int64_t>(1, kBlock / sp.n), [&](int64_t b, int64_t e) {
    std::vector<int64_t> order(static_cast<size_t>(sp.n));
    for (int64_t t = b; t < e; t++) {
      const int64_t o = t / sp.inner, i = t % sp.inner;
      const float* row = xp + o * sp.n * sp.inner + i;
      for (int64_t j = 0; j < sp.n; j++) order[j] = j;
      std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int64_t p, int64_t q) {
        return largest ? before_largest(row[p * sp.inner], p, row[q * sp.inner], q)
                       : before_smallest(row[p * sp.inner], p, row[q * sp.inner], q);
      });
      for (int64_t j = 0; j < k; j++) {
        const int64_t out = (o * k + j) * sp.inner + i;
        vp[out] = row[order[j] * sp.inner];
        ip[out] = static_cast<int32_t>(order[j]);
      }
    }
  });
  return {v.finish(), idx};
}

Tensor CpuBackend::scatter_add_axis(const Tensor& src, const Tensor& indices, int axis, const Shape& shape) {
  const AxisSplit from = split_at(src.shape, axis), to = split_at(shape, axis);
  std::vector<float> hs;
  const float* sp = f32_view(src, hs);
  const int32_t* ip = indices.data<int32_t>();
  F32Result y(*this, shape, src.dtype, Layout::NCHW);
  float* yp = y.data();
  std::fill(yp, yp + shape_numel(shape), 0.f);
  // One thread per outer slice: every write of a slice lands in that slice, in index order.
  parallel_for(from.outer, 1, [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; o++)
      for (int64_t j = 0; j < from.n; j++)
        for (int64_t i = 0; i < from.inner; i++) {
          const int64_t s = (o * from.n + j) * from.inner + i;
          yp[(o * to.n + ip[s]) * to.inner + i] += sp[s];
        }
  });
  return y.finish();
}

}  // namespace cr
