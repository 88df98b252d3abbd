// slice and index_select along one axis, and their backwards, over the logical row-major
// order. A selected index may repeat: index_select's backward adds every copy's gradient,
// one outer slice per thread and in index order, so the sums are deterministic.
#include <algorithm>

#include "cpu_backend.h"
#include "parallel.h"

namespace cr {

namespace {

// y[o, j, i] = x[o, pick(j), i] for the [outer, n_out, inner] view of y and [outer, n_in,
// inner] view of x.
template <typename Pick>
Tensor gather_axis(CpuBackend& be, const Tensor& x, int axis, int64_t n_out, Pick pick) {
  const AxisSplit sp = split_at(x.shape, axis);
  Shape out = x.shape;
  out[axis] = n_out;
  std::vector<float> hx;
  const float* xp = f32_view(x, hx);
  F32Result y(be, out, x.dtype, Layout::NCHW);
  float* yp = y.data();
  parallel_for(sp.outer * n_out, std::max<int64_t>(1, (1 << 14) / sp.inner), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; t++) {
      const int64_t o = t / n_out, j = t % n_out;
      std::copy_n(xp + (o * sp.n + pick(j)) * sp.inner, sp.inner, yp + t * sp.inner);
    }
  });
  return y.finish();
}

// zeros(shape), then y[o, pick(j), i] += dy[o, j, i].
template <typename Pick>
Tensor scatter_axis(CpuBackend& be, const Tensor& dy, int axis, const Shape& shape, Pick pick) {
  const AxisSplit from = split_at(dy.shape, axis), to = split_at(shape, axis);
  std::vector<float> hg;
  const float* gp = f32_view(dy, hg);
  F32Result y(be, shape, dy.dtype, Layout::NCHW);
  float* yp = y.data();
  std::fill(yp, yp + shape_numel(shape), 0.f);
  parallel_for(from.outer, 1, [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; o++)
      for (int64_t j = 0; j < from.n; j++) {
        const float* src = gp + (o * from.n + j) * from.inner;
        float* dst = yp + (o * to.n + pick(j)) * to.inner;
        for (int64_t i = 0; i < from.inner; i++) dst[i] += src[i];
      }
  });
  return y.finish();
}

}  // namespace

Tensor CpuBackend::slice(const Tensor& x, int axis, int64_t start, int64_t step, int64_t count) {
  return gather_axis(*this, x, axis, count, [&](int64_t j) { return start + j * step; });
}

Tensor CpuBackend::slice_backward(const Tensor& dy, int axis, int64_t start, int64_t step, const Shape& shape) {
  return scatter_axis(*this, dy, axis, shape, [&](int64_t j) { return start + j * step; });
}

Tensor CpuBackend::index_select(const Tensor& x, int axis, const Tensor& indices) {
  const int32_t* ip = indices.data<int32_t>();
  return gather_axis(*this, x, axis, indices.numel(), [&](int64_t j) { return static_cast<int64_t>(ip[j]); });
}

Tensor CpuBackend::index_select_backward(const Tensor& dy, int axis, const Tensor& indices, const Shape& shape) {
  const int32_t* ip = indices.data<int32_t>();
  return scatter_axis(*this, dy, axis, shape, [&](int64_t j) { return static_cast<int64_t>(ip[j]); });
}

}  // namespace cr
