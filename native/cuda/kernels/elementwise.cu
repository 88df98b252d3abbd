// relu, add, scale, axpy and the per-channel bias add. Memory-bound one-pass kernels; all
// of them treat the tensor as a flat array, so layout does not matter (the bindings ensure
// operands share it), except bias_add which needs the channel of each element.
#include "../context.h"
#include "common.cuh"
#include "kernels.h"

namespace cr {
namespace cuda {
namespace {

template <typename T>
__global__ void relu_fwd_kernel(const T* x, T* y, int64_t n) {
  CR_GRID_STRIDE(i, n) {
    float v = to_f(x[i]);
    y[i] = from_f<T>(v > 0.f ? v : 0.f);
  }
}

// dx = dy where y > 0 (y is the forward output; relu(x) > 0 exactly where x > 0).
template <typename T, typename U>
__global__ void relu_bwd_kernel(const T* dy, const U* y, T* dx, int64_t n) {
  CR_GRID_STRIDE(i, n) { dx[i] = to_f(y[i]) > 0.f ? dy[i] : from_f<T>(0.f); }
}

template <typename T>
__global__ void add_kernel(const T* a, const T* b, T* y, int64_t n) {
  CR_GRID_STRIDE(i, n) { y[i] = from_f<T>(to_f(a[i]) + to_f(b[i])); }
}

template <typename T>
__global__ void scale_kernel(const T* x, T* y, float alpha, int64_t n) {
  CR_GRID_STRIDE(i, n) { y[i] = from_f<T>(alpha * to_f(x[i])); }
}

// _rn intrinsics: no fma contraction, so fp32 results match the CPU backend's bit for bit.
template <typename T, typename U>
__global__ void axpy_kernel(float alpha, const U* x, T* y, int64_t n) {
  CR_GRID_STRIDE(i, n) { y[i] = from_f<T>(__fadd_rn(to_f(y[i]), __fmul_rn(alpha, to_f(x[i])))); }
}

template <typename T, typename B>
__global__ void bias_add_kernel(T* y, const B* bias, int64_t n, int64_t C, int64_t HW, bool nhwc) {
  CR_GRID_STRIDE(i, n) { y[i] = from_f<T>(to_f(y[i]) + to_f(bias[channel_of(nhwc, i, C, HW)])); }
}

}  // namespace

Tensor relu_grad(DeviceContext& ctx, const Tensor& dy, const Tensor& y, const char* op) {
  Tensor dx = new_tensor(ctx, dy.shape, dy.dtype, dy.layout, op);
  int64_t n = dy.numel();
  dispatch_float(dy.dtype, op, [&](auto t) {
    using T = typename decltype(t)::type;
    dispatch_float(y.dtype, op, [&](auto u) {
      using U = typename decltype(u)::type;
      relu_bwd_kernel<T, U><<<grid_for(ctx, n), 256, 0, ctx.stream>>>(dy.data<T>(), y.data<U>(), dx.data<T>(), n);
    });
  });
  CR_LAUNCH_CHECK(op, describe_args({{"dy", &dy}, {"y", &y}}));
  return dx;
}

void bias_add_(DeviceContext& ctx, const Tensor& y, const Tensor& bias, const char* op) {
  int64_t n = y.numel(), C = y.dim(1), HW = y.rank() == 4 ? y.dim(2) * y.dim(3) : 1;
  bool nhwc = y.rank() == 4 && y.layout == Layout::NHWC;
  if (y.rank() == 2) HW = 1;  // [N, C]: channel = i % C, which the NCHW formula gives with HW = 1
  dispatch_float(y.dtype, op, [&](auto t) {
    using T = typename decltype(t)::type;
    dispatch_float(bias.dtype, op, [&](auto b) {
      using B = typename decltype(b)::type;
      bias_add_kernel<T, B><<<grid_for(ctx, n), 256, 0, ctx.stream>>>(y.data<T>(), bias.data<B>(), n, C, HW, nhwc);
    });
  });
  CR_LAUNCH_CHECK(op, describe_args({{"y", &y}, {"bias", &bias}}));
}

}  // namespace cuda

Tensor CudaBackend::relu_forward(const Tensor& x) {
  cuda::DeviceGuard g(ctx_->index);
  Tensor y = cuda::new_tensor(*ctx_, x.shape, x.dtype, x.layout, "reluForward");
  int64_t n = x.numel();
  cuda::dispatch_float(x.dtype, "reluForward", [&](auto t) {
    using T = typename decltype(t)::type;
    cuda::relu_fwd_kernel<T><<<cuda::grid_for(*ctx_, n), 256, 0, ctx_->stream>>>(x.data<T>(), y.data<T>(), n);
  });
  CR_LAUNCH_CHECK("reluForward", cuda::describe_args({{"x", &x}}));
  return y;
}

Tensor CudaBackend::relu_backward(const Tensor& dy, const Tensor& y) {
  cuda::DeviceGuard g(ctx_->index);
  return cuda::relu_grad(*ctx_, dy, y, "reluBackward");
}

Tensor CudaBackend::add(const Tensor& a, const Tensor& b) {
  cuda::DeviceGuard g(ctx_->index);
  Tensor y = cuda::new_tensor(*ctx_, a.shape, a.dtype, a.layout, "add");
  Tensor bb = cuda::to_format(*ctx_, b, a.dtype, a.layout, "add");
  int64_t n = a.numel();
  cuda::dispatch_float(a.dtype, "add", [&](auto t) {
    using T = typename decltype(t)::type;
    cuda::add_kernel<T><<<cuda::grid_for(*ctx_, n), 256, 0, ctx_->stream>>>(a.data<T>(), bb.data<T>(), y.data<T>(), n);
  });
  CR_LAUNCH_CHECK("add", cuda::describe_args({{"a", &a}, {"b", &b}}));
  return y;
}

Tensor CudaBackend::scale(const Tensor& x, float alpha) {
  cuda::DeviceGuard g(ctx_->index);
  Tensor y = cuda::new_tensor(*ctx_, x.shape, x.dtype, x.layout, "scale");
  int64_t n = x.numel();
  cuda::dispatch_float(x.dtype, "scale", [&](auto t) {
    using T = typename decltype(t)::type;
    cuda::scale_kernel<T><<<cuda::grid_for(*ctx_, n), 256, 0, ctx_->stream>>>(x.data<T>(), y.data<T>(), alpha, n);
  });
  CR_LAUNCH_CHECK("scale", cuda::describe_args({{"x", &x}}));
  return y;
}

void CudaBackend::axpy_(float alpha, const Tensor& x, const Tensor& y) {
  cuda::DeviceGuard g(ctx_->index);
  Tensor xx = x.rank() == 4 ? cuda::to_format(*ctx_, x, x.dtype, y.layout, "axpy") : x;
  int64_t n = y.numel();
  cuda::dispatch_float(y.dtype, "axpy", [&](auto t) {
    using T = typename decltype(t)::type;
    cuda::dispatch_float(x.dtype, "axpy", [&](auto u) {
      using U = typename decltype(u)::type;
      cuda::axpy_kernel<T, U><<<cuda::grid_for(*ctx_, n), 256, 0, ctx_->stream>>>(alpha, xx.data<U>(), y.data<T>(), n);
    });
  });
  CR_LAUNCH_CHECK("axpy", cuda::describe_args({{"x", &x}, {"y", &y}}));
}

}  // namespace cr
