// CIFAR option-A shortcut (He et al. 2016, sec. 4.2): subsample by `stride` and pad channels
// with zeros, (out - C) / 2 in front and the rest behind; the backward pass scatters the
// gradient back to the sampled positions. One thread per output element, any layout.
#include "../context.h"
#include "common.cuh"

namespace cr {
namespace cuda {
namespace {

struct Dims {
  int64_t N, C, H, W;
};

__device__ __forceinline__ void unflatten(int64_t i, bool nhwc, const Dims& d, int64_t& n, int64_t& c, int64_t& h,
                                          int64_t& w) {
  if (nhwc) {
    c = i % d.C;
    int64_t r = i / d.C;
    w = r % d.W;
    r /= d.W;
    h = r % d.H;
    n = r / d.H;
  } else {
    w = i % d.W;
    int64_t r = i / d.W;
    h = r % d.H;
    r /= d.H;
    c = r % d.C;
    n = r / d.C;
  }
}

template <typename T>
__global__ void shortcut_fwd(const T* x, T* y, Dims in, Dims out, int64_t front, int stride, bool nhwc) {
  int64_t total = out.N * out.C * out.H * out.W;
  CR_GRID_STRIDE(i, total) {
    int64_t n, c, h, w;
    unflatten(i, nhwc, out, n, c, h, w);
    int64_t ci = c - front;
    y[i] = (ci >= 0 && ci < in.C) ? x[offset4(nhwc, n, ci, h * stride, w * stride, in.C, in.H, in.W)] : from_f<T>(0.f);
  }
}

template <typename T>
__global__ void shortcut_bwd(const T* dy, T* dx, Dims in, Dims out, int64_t front, int stride, bool nhwc) {
  int64_t total = in.N * in.C * in.H * in.W;
  CR_GRID_STRIDE(i, total) {
    int64_t n, c, h, w;
    unflatten(i, nhwc, in, n, c, h, w);
    bool hit = h % stride == 0 && w % stride == 0;
    dx[i] = hit ? dy[offset4(nhwc, n, c + front, h / stride, w / stride, out.C, out.H, out.W)] : from_f<T>(0.f);
  }
}

}  // namespace
}  // namespace cuda

Tensor CudaBackend::shortcut_a_forward(const Tensor& x, int64_t out_channels, int stride) {
  cuda::DeviceGuard g(ctx_->index);
  cuda::Dims in{x.dim(0), x.dim(1), x.dim(2), x.dim(3)};
  cuda::Dims out{in.N, out_channels, (in.H + stride - 1) / stride, (in.W + stride - 1) / stride};
  Tensor y = cuda::new_tensor(*ctx_, {out.N, out.C, out.H, out.W}, x.dtype, x.layout, "shortcutAForward");
  bool nhwc = x.layout == Layout::NHWC;
  int64_t front = (out_channels - in.C) / 2;
  cuda::dispatch_float(x.dtype, "shortcutAForward", [&](auto t) {
    using T = typename decltype(t)::type;
    cuda::shortcut_fwd<T><<<cuda::grid_for(*ctx_, y.numel()), 256, 0, ctx_->stream>>>(x.data<T>(), y.data<T>(), in, out,
                                                                                      front, stride, nhwc);
  });
  CR_LAUNCH_CHECK("shortcutAForward", cuda::describe_args({{"x", &x}}));
  return y;
}

Tensor CudaBackend::shortcut_a_backward(const Tensor& dy, int64_t in_channels, int stride, const Shape& x_shape) {
  cuda::DeviceGuard g(ctx_->index);
  cuda::Dims in{x_shape[0], in_channels, x_shape[2], x_shape[3]};
  cuda::Dims out{dy.dim(0), dy.dim(1), dy.dim(2), dy.dim(3)};
  Tensor dx = cuda::new_tensor(*ctx_, {in.N, in.C, in.H, in.W}, dy.dtype, dy.layout, "shortcutABackward");
  bool nhwc = dy.layout == Layout::NHWC;
  int64_t front = (out.C - in.C) / 2;
  cuda::dispatch_float(dy.dtype, "shortcutABackward", [&](auto t) {
    using T = typename decltype(t)::type;
    cuda::shortcut_bwd<T><<<cuda::grid_for(*ctx_, dx.numel()), 256, 0, ctx_->stream>>>(dy.data<T>(), dx.data<T>(), in,
                                                                                       out, front, stride, nhwc);
  });
  CR_LAUNCH_CHECK("shortcutABackward", cuda::describe_args({{"dy", &dy}}));
  return dx;
}

}  // namespace cr
