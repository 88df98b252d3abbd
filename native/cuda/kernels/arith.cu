// Broadcasting elementwise arithmetic: one thread per output element, which decodes its
// coordinates and reads each operand through broadcast strides (0 along broadcast axes).
// Inputs are read in logical order (NHWC operands are converted first); math is fp32 with
// IEEE division and square root, the CPU backend's operations.
#include "../context.h"
#include "common.cuh"
#include "kernels.h"

namespace cr {
namespace cuda {
namespace {

struct Broadcast {
  int rank;
  int64_t size[kMaxRank], sa[kMaxRank], sb[kMaxRank];
};

Broadcast broadcast_of(const Shape& out, const Shape& a, const Shape& b) {
  Broadcast g{};
  g.rank = static_cast<int>(out.size());
  Shape sa = broadcast_strides(a, out), sb = broadcast_strides(b, out);
  for (int k = 0; k < g.rank; k++) {
    g.size[k] = out[k];
    g.sa[k] = sa[k];
    g.sb[k] = sb[k];
  }
  return g;
}

__device__ __forceinline__ float apply_binary(int op, float u, float v) {
  switch (static_cast<ArithOp>(op)) {
    case ArithOp::Add: return u + v;
    case ArithOp::Sub: return u - v;
    case ArithOp::Mul: return u * v;
    case ArithOp::Div: return __fdiv_rn(u, v);
  }
  return 0.f;
}

__device__ __forceinline__ float apply_scalar(int op, float x, float s) {
  switch (static_cast<ScalarOp>(op)) {
    case ScalarOp::Add: return x + s;
    case ScalarOp::Sub: return x - s;
    case ScalarOp::RSub: return s - x;
    case ScalarOp::Mul: return x * s;
    case ScalarOp::Div: return __fdiv_rn(x, s);
    case ScalarOp::RDiv: return __fdiv_rn(s, x);
    case ScalarOp::Pow: return powf(x, s);
  }
  return 0.f;
}

__device__ __forceinline__ float apply_unary(int op, float x) {
  switch (static_cast<UnaryOp>(op)) {
    case UnaryOp::Neg: return -x;
    case UnaryOp::Exp: return expf(x);
    case UnaryOp::Log: return logf(x);
    case UnaryOp::Sqrt: return __fsqrt_rn(x);
    case UnaryOp::Abs: return fabsf(x);
    case UnaryOp::Sign: return x > 0.f ? 1.f : x < 0.f ? -1.f : x == 0.f ? 0.f : x;
  }
  return 0.f;
}

// op < 0: copy a (broadcast_to); b is unused then.
template <typename T>
__global__ void binary_kernel(const T* a, const T* b, T* y, Broadcast g, int op, int64_t n) {
  CR_GRID_STRIDE(i, n) {
    int64_t rem = i, oa = 0, ob = 0;
    for (int k = g.rank - 1; k >= 0; k--) {
      int64_t c = rem % g.size[k];
      rem /= g.size[k];
      oa += c * g.sa[k];
      ob += c * g.sb[k];
    }
    y[i] = op < 0 ? a[oa] : from_f<T>(apply_binary(op, to_f(a[oa]), to_f(b[ob])));
  }
}

template <typename T>
__global__ void scalar_kernel(const T* x, T* y, float s, int op, int64_t n) {
  CR_GRID_STRIDE(i, n) { y[i] = from_f<T>(apply_scalar(op, to_f(x[i]), s)); }
}

template <typename T>
__global__ void unary_kernel(const T* x, T* y, int op, int64_t n) {
  CR_GRID_STRIDE(i, n) { y[i] = from_f<T>(apply_unary(op, to_f(x[i]))); }
}

}  // namespace
}  // namespace cuda

Tensor CudaBackend::arith_binary(const Tensor& a, const Tensor& b, ArithOp op) {
  cuda::DeviceGuard g(ctx_->index);
  const char* name = "arithBinary";
  Shape out;
  broadcast_shapes(a.shape, b.shape, out);
  Tensor aa = cuda::to_format(*ctx_, a, a.dtype, Layout::NCHW, name);
  Tensor bb = cuda::to_format(*ctx_, b, a.dtype, Layout::NCHW, name);
  Tensor y = cuda::new_tensor(*ctx_, out, a.dtype, Layout::NCHW, name);
  cuda::Broadcast geo = cuda::broadcast_of(out, a.shape, b.shape);
  int64_t n = y.numel();
  cuda::dispatch_float(a.dtype, name, [&](auto t) {
    using T = typename decltype(t)::type;
    cuda::binary_kernel<T><<<cuda::grid_for(*ctx_, n), 256, 0, ctx_->stream>>>(aa.data<T>(), bb.data<T>(), y.data<T>(),
                                                                               geo, static_cast<int>(op), n);
  });
  CR_LAUNCH_CHECK(name, cuda::describe_args({{"a", &a}, {"b", &b}}));
  return y;
}

Tensor CudaBackend::broadcast_to(const Tensor& x, const Shape& shape) {
  cuda::DeviceGuard g(ctx_->index);
  const char* name = "broadcastTo";
  Tensor xx = cuda::to_format(*ctx_, x, x.dtype, Layout::NCHW, name);
  Tensor y = cuda::new_tensor(*ctx_, shape, x.dtype, Layout::NCHW, name);
  cuda::Broadcast geo = cuda::broadcast_of(shape, x.shape, x.shape);
  int64_t n = y.numel();
  cuda::dispatch_float(x.dtype, name, [&](auto t) {
    using T = typename decltype(t)::type;
    cuda::binary_kernel<T>
        <<<cuda::grid_for(*ctx_, n), 256, 0, ctx_->stream>>>(xx.data<T>(), xx.data<T>(), y.data<T>(), geo, -1, n);
  });
  CR_LAUNCH_CHECK(name, cuda::describe_args({{"x", &x}}));
  return y;
}

Tensor CudaBackend::arith_scalar(const Tensor& x, double scalar, ScalarOp op) {
  cuda::DeviceGuard g(ctx_->index);
  const char* name = "arithScalar";
  Tensor xx = cuda::to_format(*ctx_, x, x.dtype, Layout::NCHW, name);
  Tensor y = cuda::new_tensor(*ctx_, x.shape, x.dtype, Layout::NCHW, name);
  int64_t n = y.numel();
  cuda::dispatch_float(x.dtype, name, [&](auto t) {
    using T = typename decltype(t)::type;
    cuda::scalar_kernel<T><<<cuda::grid_for(*ctx_, n), 256, 0, ctx_->stream>>>(
        xx.data<T>(), y.data<T>(), static_cast<float>(scalar), static_cast<int>(op), n);
  });
  CR_LAUNCH_CHECK(name, cuda::describe_args({{"x", &x}}));
  return y;
}

Tensor CudaBackend::arith_unary(const Tensor& x, UnaryOp op) {
  cuda::DeviceGuard g(ctx_->index);
  const char* name = "arithUnary";
  Tensor xx = cuda::to_format(*ctx_, x, x.dtype, Layout::NCHW, name);
  Tensor y = cuda::new_tensor(*ctx_, x.shape, x.dtype, Layout::NCHW, name);
  int64_t n = y.numel();
  cuda::dispatch_float(x.dtype, name, [&](auto t) {
    using T = typename decltype(t)::type;
    cuda::unary_kernel<T>
        <<<cuda::grid_for(*ctx_, n), 256, 0, ctx_->stream>>>(xx.data<T>(), y.data<T>(), static_cast<int>(op), n);
  });
  CR_LAUNCH_CHECK(name, cuda::describe_args({{"x", &x}}));
  return y;
}

}  // namespace cr
