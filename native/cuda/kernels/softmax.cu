// softmax / log-softmax along one axis: one thread per line (outer x inner of them), which
// takes the line's max, then sums exp(x - max) in double, as the CPU backend does. Lines of
// a few thousand elements (class scores) are what it is for; a very long single line would
// run on one thread.
#include "../context.h"
#include "common.cuh"
#include "kernels.h"

namespace cr {
namespace cuda {
namespace {

template <typename T>
__global__ void softmax_fwd_kernel(const T* x, T* y, AxisSplit sp, bool log_out) {
  CR_GRID_STRIDE(t, sp.outer * sp.inner) {
    const int64_t base = (t / sp.inner) * sp.n * sp.inner + t % sp.inner;
    float m = -INFINITY;
    for (int64_t j = 0; j < sp.n; j++) m = fmaxf(m, to_f(x[base + j * sp.inner]));
    if (isinf(m) && m < 0) m = 0.f;
    double s = 0;
    for (int64_t j = 0; j < sp.n; j++) s += exp(static_cast<double>(to_f(x[base + j * sp.inner]) - m));
    const double ls = ::log(s);
    for (int64_t j = 0; j < sp.n; j++) {
      const int64_t k = base + j * sp.inner;
      const double z = static_cast<double>(to_f(x[k]) - m);
      y[k] = from_f<T>(static_cast<float>(log_out ? z - ls : exp(z - ls)));
    }
  }
}

template <typename T, typename U>
__global__ void softmax_bwd_kernel(const T* dy, const U* y, T* dx, AxisSplit sp, bool log_out) {
  CR_GRID_STRIDE(t, sp.outer * sp.inner) {
    const int64_t base = (t / sp.inner) * sp.n * sp.inner + t % sp.inner;
    double s = 0;
    for (int64_t j = 0; j < sp.n; j++) {
      const int64_t k = base + j * sp.inner;
      s += log_out ? static_cast<double>(to_f(dy[k])) : static_cast<double>(to_f(dy[k])) * to_f(y[k]);
    }
    for (int64_t j = 0; j < sp.n; j++) {
      const int64_t k = base + j * sp.inner;
      const double g = to_f(dy[k]), v = to_f(y[k]);
      dx[k] = from_f<T>(static_cast<float>(log_out ? g - exp(v) * s : v * (g - s)));
    }
  }
}

}  // namespace
}  // namespace cuda

Tensor CudaBackend::softmax_forward(const Tensor& x, int axis, bool log) {
  cuda::DeviceGuard g(ctx_->index);
  const char* name = "softmaxForward";
  const AxisSplit sp = split_at(x.shape, axis);
  Tensor xx = cuda::to_format(*ctx_, x, x.dtype, Layout::NCHW, name);
  Tensor y = cuda::new_tensor(*ctx_, x.shape, x.dtype, Layout::NCHW, name);
  const int64_t lines = sp.outer * sp.inner;
  cuda::dispatch_float(x.dtype, name, [&](auto t) {
    using T = typename decltype(t)::type;
    cuda::softmax_fwd_kernel<T>
        <<<cuda::grid_for(*ctx_, lines), 256, 0, ctx_->stream>>>(xx.data<T>(), y.data<T>(), sp, log);
  });
  CR_LAUNCH_CHECK(name, cuda::describe_args({{"x", &x}}));
  return y;
}

Tensor CudaBackend::softmax_backward(const Tensor& dy, const Tensor& y, int axis, bool log) {
  cuda::DeviceGuard g(ctx_->index);
  const char* name = "softmaxBackward";
  const AxisSplit sp = split_at(y.shape, axis);
  Tensor gg = cuda::to_format(*ctx_, dy, dy.dtype, Layout::NCHW, name);
  Tensor yy = cuda::to_format(*ctx_, y, y.dtype, Layout::NCHW, name);
  Tensor dx = cuda::new_tensor(*ctx_, y.shape, dy.dtype, Layout::NCHW, name);
  const int64_t lines = sp.outer * sp.inner;
  cuda::dispatch_float(dy.dtype, name, [&](auto t) {
    using T = typename decltype(t)::type;
    cuda::dispatch_float(y.dtype, name, [&](auto u) {
      using U = typename decltype(u)::type;
      cuda::softmax_bwd_kernel<T, U>
          <<<cuda::grid_for(*ctx_, lines), 256, 0, ctx_->stream>>>(gg.data<T>(), yy.data<U>(), dx.data<T>(), sp, log);
    });
  });
  CR_LAUNCH_CHECK(name, cuda::describe_args({{"dy", &dy}, {"y", &y}}));
  return dx;
}

}  // namespace cr
