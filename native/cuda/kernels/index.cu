// slice and index_select along one axis, and their backwards: one thread per output
// element. index_select's backward sums, for each input position, the gradients of every
// selected copy of it in index order (the CPU backend's order, no atomics), which costs
// (input elements) x (number of indices): meant for metric-sized selections.
#include "../context.h"
#include "common.cuh"
#include "kernels.h"

namespace cr {
namespace cuda {
namespace {

// y[o, j, i] = x[o, start + j * step, i], or x[o, ind[j], i] when ind is given.
template <typename T>
__global__ void gather_kernel(const T* x, T* y, AxisSplit in, int64_t n_out, int64_t start, int64_t step,
                              const int32_t* ind) {
  CR_GRID_STRIDE(t, in.outer * n_out * in.inner) {
    const int64_t i = t % in.inner, j = (t / in.inner) % n_out, o = t / (in.inner * n_out);
    const int64_t p = ind ? static_cast<int64_t>(ind[j]) : start + j * step;
    y[t] = x[(o * in.n + p) * in.inner + i];
  }
}

// y[o, p, i] = dy[o, j, i] where p = start + j * step for some j, else 0.
template <typename T>
__global__ void slice_bwd_kernel(const T* dy, T* y, AxisSplit to, int64_t n_from, int64_t start, int64_t step) {
  CR_GRID_STRIDE(t, to.outer * to.n * to.inner) {
    const int64_t i = t % to.inner, p = (t / to.inner) % to.n, o = t / (to.inner * to.n);
    const int64_t d = p - start, j = d / step;
    const bool hit = d >= 0 && d % step == 0 && j < n_from;
    y[t] = hit ? dy[(o * n_from + j) * to.inner + i] : from_f<T>(0.f);
  }
}

template <typename T>
__global__ void index_bwd_kernel(const T* dy, const int32_t* ind, T* y, AxisSplit to, int64_t n_from) {
  CR_GRID_STRIDE(t, to.outer * to.n * to.inner) {
    const int64_t i = t % to.inner, p = (t / to.inner) % to.n, o = t / (to.inner * to.n);
    float acc = 0.f;
    for (int64_t j = 0; j < n_from; j++)
      if (ind[j] == p) acc += to_f(dy[(o * n_from + j) * to.inner + i]);
    y[t] = from_f<T>(acc);
  }
}

}  // namespace

static Tensor gather(DeviceContext& ctx, const Tensor& x, int axis, int64_t n_out, int64_t start, int64_t step,
                     const Tensor* indices, const char* name) {
  const AxisSplit sp = split_at(x.shape, axis);
  Shape out = x.shape;
  out[axis] = n_out;
  Tensor xx = to_format(ctx, x, x.dtype, Layout::NCHW, name);
  Tensor y = new_tensor(ctx, out, x.dtype, Layout::NCHW, name);
  const int64_t n = y.numel();
  dispatch_float(x.dtype, name, [&](auto t) {
    using T = typename decltype(t)::type;
    gather_kernel<T><<<grid_for(ctx, n), 256, 0, ctx.stream>>>(xx.data<T>(), y.data<T>(), sp, n_out, start, step,
                                                               indices ? indices->data<int32_t>() : nullptr);
  });
  CR_LAUNCH_CHECK(name, describe_args({{"x", &x}}));
  return y;
}

}  // namespace cuda

Tensor CudaBackend::slice(const Tensor& x, int axis, int64_t start, int64_t step, int64_t count) {
  cuda::DeviceGuard g(ctx_->index);
  return cuda::gather(*ctx_, x, axis, count, start, step, nullptr, "slice");
}

Tensor CudaBackend::index_select(const Tensor& x, int axis, const Tensor& indices) {
  cuda::DeviceGuard g(ctx_->index);
  return cuda::gather(*ctx_, x, axis, indices.numel(), 0, 1, &indices, "indexSelect");
}

Tensor CudaBackend::slice_backward(const Tensor& dy, int axis, int64_t start, int64_t step, const Shape& shape) {
  cuda::DeviceGuard g(ctx_->index);
  const char* name = "sliceBackward";
  const AxisSplit to = split_at(shape, axis);
  Tensor gg = cuda::to_format(*ctx_, dy, dy.dtype, Layout::NCHW, name);
  Tensor y = cuda::new_tensor(*ctx_, shape, dy.dtype, Layout::NCHW, name);
  const int64_t n = y.numel();
  cuda::dispatch_float(dy.dtype, name, [&](auto t) {
    using T = typename decltype(t)::type;
    cuda::slice_bwd_kernel<T>
        <<<cuda::grid_for(*ctx_, n), 256, 0, ctx_->stream>>>(gg.data<T>(), y.data<T>(), to, dy.dim(axis), start, step);
  });
  CR_LAUNCH_CHECK(name, cuda::describe_args({{"dy", &dy}}));
  return y;
}

Tensor CudaBackend::index_select_backward(const Tensor& dy, int axis, const Tensor& indices, const Shape& shape) {
  cuda::DeviceGuard g(ctx_->index);
  const char* name = "indexSelectBackward";
  const AxisSplit to = split_at(shape, axis);
  Tensor gg = cuda::to_format(*ctx_, dy, dy.dtype, Layout::NCHW, name);
  Tensor y = cuda::new_tensor(*ctx_, shape, dy.dtype, Layout::NCHW, name);
  const int64_t n = y.numel();
  cuda::dispatch_float(dy.dtype, name, [&](auto t) {
    using T = typename decltype(t)::type;
    cuda::index_bwd_kernel<T><<<cuda::grid_for(*ctx_, n), 256, 0, ctx_->stream>>>(gg.data<T>(), indices.data<int32_t>(),
                                                                                  y.data<T>(), to, indices.numel());
  });
  CR_LAUNCH_CHECK(name, cuda::describe_args({{"dy", &dy}, {"indices", &indices}}));
  return y;
}

}  // namespace cr
