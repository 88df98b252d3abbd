// Spatial batch norm. Training forward and backward run through cuDNN when it accepts the
// configuration (../batchnorm.cu); our kernels below are the fallback (eps under cuDNN's
// minimum, a dtype/layout it refuses, or CUDNN_RESNET_BN=native) and also supply what the
// legacy API lacks: the residual add + ReLU epilogue, the ReLU mask in the backward pass,
// and inference, which is one fused elementwise pass.
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "../../core/env.h"
#include "../context.h"
#include "../batchnorm.h"
#include "channel_reduce.cuh"
#include "common.cuh"
#include "kernels.h"

namespace cr {
namespace cuda {
namespace {

bool force_native_bn() { return env::batch_norm_path() == env::BatchNormPath::Native; }

// CUDNN_RESNET_BN=plain keeps cuDNN but skips the fused Ex kernel (for comparisons).
bool fused_bn_enabled() { return env::batch_norm_path() != env::BatchNormPath::Plain; }

template <typename T>
struct MomentsF {  // acc = {sum x, sum x^2}
  const T* x;
  __device__ void operator()(int64_t i, int64_t, double (&acc)[2]) const {
    double v = to_f(x[i]);
    acc[0] += v;
    acc[1] += v * v;
  }
};

template <typename T, typename G>
struct BackwardF {  // acc = {sum g, sum g * (x - mean)}
  const T* x;
  const G* g;
  const float* mean;
  __device__ void operator()(int64_t i, int64_t c, double (&acc)[2]) const {
    double gv = to_f(g[i]);
    acc[0] += gv;
    acc[1] += gv * (static_cast<double>(to_f(x[i])) - mean[c]);
  }
};

__global__ void bn_stats_finish(const double* sums, int64_t C, double M, double momentum, double eps, float* save_mean,
                                float* save_invstd, float* running_mean, float* running_var) {
  int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (c >= C) return;
  double mean = sums[2 * c] / M;
  double var = fmax(sums[2 * c + 1] / M - mean * mean, 0.0);
  save_mean[c] = static_cast<float>(mean);
  save_invstd[c] = static_cast<float>(1.0 / sqrt(var + eps));
  double unbiased = M > 1 ? var * M / (M - 1) : var;
  running_mean[c] = static_cast<float>((1 - momentum) * running_mean[c] + momentum * mean);
  running_var[c] = static_cast<float>((1 - momentum) * running_var[c] + momentum * unbiased);
}

// y = act(gamma * (x - mean) * invstd + beta + residual); invstd_is_var: `invstd` holds a
// variance (inference) and 1 / sqrt(var + eps) is taken here.
template <typename T, typename R>
__global__ void bn_apply(const T* x, T* y, const float* gamma, const float* beta, const float* mean,
                         const float* invstd, bool invstd_is_var, float eps, const R* residual, bool relu, int64_t n,
                         int64_t C, int64_t HW, bool nhwc) {
  CR_GRID_STRIDE(i, n) {
    int64_t c = channel_of(nhwc, i, C, HW);
    float is = invstd_is_var ? rsqrtf(invstd[c] + eps) : invstd[c];
    float v = gamma[c] * (to_f(x[i]) - mean[c]) * is + beta[c];
    if (residual) v += to_f(residual[i]);
    if (relu) v = v > 0.f ? v : 0.f;
    y[i] = from_f<T>(v);
  }
}

template <typename T, typename G>
__global__ void bn_backward_dx(const T* x, const G* g, T* dx, const float* gamma, const float* mean,
                               const float* invstd, const double* sums, double M, int64_t n, int64_t C, int64_t HW,
                               bool nhwc) {
  CR_GRID_STRIDE(i, n) {
    int64_t c = channel_of(nhwc, i, C, HW);
    double is = invstd[c];
    double xhat = (static_cast<double>(to_f(x[i])) - mean[c]) * is;
    double sg = sums[2 * c], sgx = sums[2 * c + 1] * is;  // sum g, sum g * xhat
    double v = gamma[c] * is / M * (M * to_f(g[i]) - sg - xhat * sgx);
    dx[i] = from_f<T>(static_cast<float>(v));
  }
}

__global__ void bn_param_grads(const double* sums, const float* invstd, int64_t C, float* dgamma, float* dbeta) {
  int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (c >= C) return;
  dbeta[c] = static_cast<float>(sums[2 * c]);
  dgamma[c] = static_cast<float>(sums[2 * c + 1] * invstd[c]);
}

template <typename T, typename R>
__global__ void add_relu_kernel(T* y, const R* residual, bool relu, int64_t n) {
  CR_GRID_STRIDE(i, n) {
    float v = to_f(y[i]);
    if (residual) v += to_f(residual[i]);
    if (relu) v = v > 0.f ? v : 0.f;
    y[i] = from_f<T>(v);
  }
}

Tensor f32(DeviceContext& ctx, const Tensor& t, const char* op) {
  return to_format(ctx, t, DType::F32, Layout::NCHW, op);
}

void apply(DeviceContext& ctx, const Tensor& x, const Tensor& y, const Tensor& gamma, const Tensor& beta,
           const Tensor& mean, const Tensor& invstd, bool is_var, double eps, const Tensor* residual, bool relu,
           const char* op) {
  ChannelGeom g = geom_of(x);
  int64_t n = x.numel();
  Tensor res;
  if (residual) res = to_format(ctx, *residual, x.dtype, x.layout, op);
  dispatch_float(x.dtype, op, [&](auto t) {
    using T = typename decltype(t)::type;
    bn_apply<T, T><<<grid_for(ctx, n), 256, 0, ctx.stream>>>(
        x.data<T>(), y.data<T>(), gamma.data<float>(), beta.data<float>(), mean.data<float>(), invstd.data<float>(),
        is_var, static_cast<float>(eps), residual ? res.data<T>() : nullptr, relu, n, g.C, g.HW, g.nhwc);
  });
  CR_LAUNCH_CHECK(op, describe_args({{"x", &x}, {"residual", residual}}));
}

}  // namespace

void add_relu_(DeviceContext& ctx, const Tensor& y, const Tensor* residual, bool relu, const char* op) {
  if (!residual && !relu) return;
  int64_t n = y.numel();
  Tensor res;
  if (residual) res = to_format(ctx, *residual, y.dtype, y.layout, op);
  dispatch_float(y.dtype, op, [&](auto t) {
    using T = typename decltype(t)::type;
    add_relu_kernel<T, T>
        <<<grid_for(ctx, n), 256, 0, ctx.stream>>>(y.data<T>(), residual ? res.data<T>() : nullptr, relu, n);
  });
  CR_LAUNCH_CHECK(op, describe_args({{"y", &y}, {"residual", residual}}));
}

}  // namespace cuda

BatchNormForward CudaBackend::batchnorm_forward_training(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                                         const Tensor& running_mean, const Tensor& running_var,
                                                         double momentum, double eps, const Tensor* residual,
                                                         bool relu) {
  cuda::DeviceGuard g(ctx_->index);
  const char* op = "batchNormForwardTraining";
  DeviceContext& ctx = *ctx_;
  int64_t C = x.dim(1);
  BatchNormForward out;
  out.y = cuda::new_tensor(ctx, x.shape, x.dtype, x.layout, op);
  out.save_mean = cuda::new_tensor(ctx, {C}, DType::F32, Layout::NCHW, op);
  out.save_invstd = cuda::new_tensor(ctx, {C}, DType::F32, Layout::NCHW, op);
  Tensor gm = cuda::f32(ctx, gamma, op), bt = cuda::f32(ctx, beta, op);
  bool use_dnn = !cuda::force_native_bn() && running_mean.dtype == DType::F32 && running_var.dtype == DType::F32;
  // NHWC fp16/bf16 with ReLU: one fused cuDNN kernel does norm + add + ReLU, and leaves its
  // reserve space (the activation mask) for the fused backward.
  if (use_dnn && relu && cuda::fused_bn_enabled() &&
      cuda::dnn_bn_forward_training_fused(ctx, x, residual, relu, out.y, gm, bt, running_mean, running_var, momentum,
                                          eps, out.save_mean, out.save_invstd, out.reserve))
    return out;
  bool done = use_dnn && cuda::dnn_bn_forward_training(ctx, x, out.y, gm, bt, running_mean, running_var, momentum, eps,
                                                       out.save_mean, out.save_invstd);
  if (done) {
    // cuDNN stored y rounded to x's dtype; adding a residual to that would round twice. For
    // 16-bit y with a residual the normalisation is redone from the saved statistics with the
    // residual and ReLU in the same pass, rounding once as the CPU does.
    if (residual && x.dtype != DType::F32)
      cuda::apply(ctx, x, out.y, gm, bt, out.save_mean, out.save_invstd, false, eps, residual, relu, op);
    else
      cuda::add_relu_(ctx, out.y, residual, relu, op);
    return out;
  }
  cuda::ChannelGeom geo = cuda::geom_of(x);
  cuda::Scratch sums(ctx, static_cast<size_t>(C) * 2 * sizeof(double), op);
  cuda::dispatch_float(x.dtype, op, [&](auto t) {
    using T = typename decltype(t)::type;
    cuda::channel_reduce<2>(ctx, geo, cuda::MomentsF<T>{x.data<T>()}, sums.as<double>(), op);
  });
  Tensor rm = cuda::f32(ctx, running_mean, op), rv = cuda::f32(ctx, running_var, op);
  double M = static_cast<double>(geo.N * geo.HW);
  cuda::bn_stats_finish<<<static_cast<unsigned>((C + 127) / 128), 128, 0, ctx.stream>>>(
      sums.as<double>(), C, M, momentum, eps, out.save_mean.data<float>(), out.save_invstd.data<float>(),
      rm.data<float>(), rv.data<float>());
  CR_LAUNCH_CHECK(op, cuda::describe_args({{"x", &x}}));
  if (rm.storage != running_mean.storage)
    copy_(running_mean, cuda::to_format(ctx, rm, running_mean.dtype, Layout::NCHW, op));
  if (rv.storage != running_var.storage)
    copy_(running_var, cuda::to_format(ctx, rv, running_var.dtype, Layout::NCHW, op));
  cuda::apply(ctx, x, out.y, gm, bt, out.save_mean, out.save_invstd, false, eps, residual, relu, op);
  return out;
}

Tensor CudaBackend::batchnorm_forward_inference(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                                const Tensor& running_mean, const Tensor& running_var, double eps,
                                                const Tensor* residual, bool relu) {
  cuda::DeviceGuard g(ctx_->index);
  const char* op = "batchNormForwardInference";
  DeviceContext& ctx = *ctx_;
  Tensor y = cuda::new_tensor(ctx, x.shape, x.dtype, x.layout, op);
  cuda::apply(ctx, x, y, cuda::f32(ctx, gamma, op), cuda::f32(ctx, beta, op), cuda::f32(ctx, running_mean, op),
              cuda::f32(ctx, running_var, op), true, eps, residual, relu, op);
  return y;
}

BatchNormBackward CudaBackend::batchnorm_backward(const Tensor& dy, const Tensor& x, const Tensor& gamma,
                                                  const Tensor& save_mean, const Tensor& save_invstd, double eps,
                                                  const Tensor* y, bool relu, bool has_residual, const Tensor* beta,
                                                  const Tensor* reserve) {
  cuda::DeviceGuard g(ctx_->index);
  const char* op = "batchNormBackward";
  DeviceContext& ctx = *ctx_;
  int64_t C = x.dim(1);
  // The forward ran cuDNN's fused kernel: its backward applies the mask, computes dx, the
  // parameter gradients and the residual's gradient in one kernel.
  if (reserve && beta && relu && y && !cuda::force_native_bn()) {
    BatchNormBackward out;
    out.dx = cuda::new_tensor(ctx, x.shape, x.dtype, x.layout, op);
    out.dgamma = cuda::new_tensor(ctx, {C}, DType::F32, Layout::NCHW, op);
    out.dbeta = cuda::new_tensor(ctx, {C}, DType::F32, Layout::NCHW, op);
    if (has_residual) out.dresidual = cuda::new_tensor(ctx, x.shape, x.dtype, x.layout, op);
    if (cuda::dnn_bn_backward_fused(ctx, x, *y, dy, has_residual ? &out.dresidual : nullptr, out.dx,
                                    cuda::f32(ctx, gamma, op), cuda::f32(ctx, *beta, op), out.dgamma, out.dbeta, eps,
                                    cuda::f32(ctx, save_mean, op), cuda::f32(ctx, save_invstd, op), *reserve))
      return out;
  }
  // The gradient reaching the BN output: through the ReLU mask when the forward fused one.
  Tensor gd = relu ? cuda::relu_grad(ctx, dy, *y, op) : dy;  // in dy's dtype and layout
  BatchNormBackward out;
  if (has_residual) {
    // The residual entered the sum unscaled, so its gradient is gd (in dy's dtype and layout,
    // as on the CPU); a new tensor, never an alias of dy.
    out.dresidual = cuda::new_tensor(ctx, gd.shape, gd.dtype, gd.layout, op);
    copy_(out.dresidual, gd);
  }
  Tensor gr = cuda::to_format(ctx, gd, x.dtype, x.layout, op);
  out.dx = cuda::new_tensor(ctx, x.shape, x.dtype, x.layout, op);
  out.dgamma = cuda::new_tensor(ctx, {C}, DType::F32, Layout::NCHW, op);
  out.dbeta = cuda::new_tensor(ctx, {C}, DType::F32, Layout::NCHW, op);
  Tensor gm = cuda::f32(ctx, gamma, op), mean = cuda::f32(ctx, save_mean, op), is = cuda::f32(ctx, save_invstd, op);
  if (!cuda::force_native_bn() && cuda::dnn_bn_backward(ctx, x, gr, out.dx, gm, out.dgamma, out.dbeta, eps, mean, is))
    return out;
  cuda::ChannelGeom geo = cuda::geom_of(x);
  cuda::Scratch sums(ctx, static_cast<size_t>(C) * 2 * sizeof(double), op);
  double M = static_cast<double>(geo.N * geo.HW);
  int64_t n = x.numel();
  cuda::dispatch_float(x.dtype, op, [&](auto t) {
    using T = typename decltype(t)::type;
    cuda::channel_reduce<2>(ctx, geo, cuda::BackwardF<T, T>{x.data<T>(), gr.data<T>(), mean.data<float>()},
                            sums.as<double>(), op);
    cuda::bn_backward_dx<T, T><<<cuda::grid_for(ctx, n), 256, 0, ctx.stream>>>(
        x.data<T>(), gr.data<T>(), out.dx.data<T>(), gm.data<float>(), mean.data<float>(), is.data<float>(),
        sums.as<double>(), M, n, geo.C, geo.HW, geo.nhwc);
  });
  cuda::bn_param_grads<<<static_cast<unsigned>((C + 127) / 128), 128, 0, ctx.stream>>>(
      sums.as<double>(), is.data<float>(), C, out.dgamma.data<float>(), out.dbeta.data<float>());
  CR_LAUNCH_CHECK(op, cuda::describe_args({{"dy", &dy}, {"x", &x}}));
  return out;
}

}  // namespace cr
