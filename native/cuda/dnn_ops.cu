// cuDNN batch norm and pooling. Part of the cuDNN module with dnn_conv.cu: together they are
// the only code that calls cuDNN (besides handle creation in cuda_backend.cu), so swapping
// the deprecated legacy API for the graph API later means rewriting these two files.
#include "dnn_ops.h"

#include <atomic>

#include "dnn_util.h"
#include "kernels/kernels.h"

namespace cr {
namespace cuda {

using namespace dnn;
using namespace dnnu;

// ---------------------------------------------------------------- batch norm

bool dnn_bn_forward_training(DeviceContext& ctx, const Tensor& x, const Tensor& y, const Tensor& gamma,
                             const Tensor& beta, const Tensor& running_mean, const Tensor& running_var, double momentum,
                             double eps, const Tensor& save_mean, const Tensor& save_invstd) {
  const char* op = "batchNormForwardTraining";
  TensorDesc xd, pd;
  set_tensor(xd, x, op);
  set_tensor(pd, {1, x.dim(1), 1, 1}, DType::F32, Layout::NCHW, op);
  cudnnStatus_t st = A().cudnnBatchNormalizationForwardTraining(
      ctx.handle, CUDNN_BATCHNORM_SPATIAL, &kOne, &kZero, xd, x.raw(), xd, y.raw(), pd, gamma.raw(), beta.raw(),
      momentum, running_mean.raw(), running_var.raw(), eps, save_mean.raw(), save_invstd.raw());
  if (st == CUDNN_STATUS_SUCCESS) return true;
  if (refused(st)) return false;
  throw_cudnn(st, op, "cudnnBatchNormalizationForwardTraining", describe_args({{"x", &x}}));
}

// The fused kernels' terms: NHWC fp16/bf16 with C % 4 == 0, a residual only together with
// the ReLU (cuDNN fuses the add only before an activation), in x's dtype and layout.
static bool fused_bn_eligible(const Tensor& x, const Tensor* residual, bool relu) {
  return x.rank() == 4 && x.layout == Layout::NHWC && (x.dtype == DType::F16 || x.dtype == DType::BF16) &&
         x.dim(1) % 4 == 0 && relu && (!residual || (residual->dtype == x.dtype && residual->layout == x.layout));
}

static const cudnnBatchNormMode_t kFusedMode = CUDNN_BATCHNORM_SPATIAL_PERSISTENT;

// How often the fused kernels ran, and how often a qualifying shape fell back (cuDNN
// refused, or no memory for the fused kernel's extras): cudaInfo().fusedBatchNorm.
static std::atomic<int64_t> g_fused_forward{0}, g_fused_backward{0}, g_fused_fallbacks{0};

static bool fall_back() {
  g_fused_fallbacks++;
  return false;
}

// Memory a fused call needs beyond the plain path's: a shortage is a reason to take the
// plain path (which needs none of it), not to fail the op. During a capture the workspace
// cannot grow, so a capture that would need it to falls back too.
template <typename F>
static bool fused_memory(F&& allocate) {
  try {
    allocate();
    return true;
  } catch (const OpError& e) {
    if (e.kind() == ErrorKind::OutOfMemory) return false;
    throw;
  }
}

static bool workspace_for_fused(DeviceContext& ctx, size_t bytes, void** ws, const char* op) {
  *ws = nullptr;
  if (bytes == 0) return true;
  if (ctx.capture_pool != cuda::kDefaultPool && bytes > ctx.workspace_bytes()) return false;
  return fused_memory([&] { *ws = ctx.workspace(bytes, op); });
}

// The descriptors both fused calls use: x (and y, dy, dx, the residual: all alike), the
// per-channel parameters, and the ReLU.
struct FusedBnDescs {
  TensorDesc xd, pd;
  ActivationDesc ad;
  FusedBnDescs(const Tensor& x, const char* op) {
    set_tensor(xd, x, op);
    set_tensor(pd, {1, x.dim(1), 1, 1}, DType::F32, Layout::NCHW, op);
    CR_CUDNN_CHECK(A().cudnnSetActivationDescriptor(ad, CUDNN_ACTIVATION_RELU, CUDNN_NOT_PROPAGATE_NAN, 0.0), op, "relu");
  }
};

bool dnn_bn_forward_training_fused(DeviceContext& ctx, const Tensor& x, const Tensor* residual, bool relu,
                                   const Tensor& y, const Tensor& gamma, const Tensor& beta,
                                   const Tensor& running_mean, const Tensor& running_var, double momentum, double eps,
                                   const Tensor& save_mean, const Tensor& save_invstd, Tensor& reserve_out) {
  const char* op = "batchNormForwardTraining";
  if (!fused_bn_eligible(x, residual, relu)) return false;
  const cudnnBatchNormOps_t ops = residual ? CUDNN_BATCHNORM_OPS_BN_ADD_ACTIVATION : CUDNN_BATCHNORM_OPS_BN_ACTIVATION;
  FusedBnDescs d(x, op);
  const cudnnTensorDescriptor_t xd = d.xd, pd = d.pd;
  const cudnnActivationDescriptor_t ad = d.ad;
  size_t ws_bytes = 0, reserve_bytes = 0;
  cudnnStatus_t st = A().cudnnGetBatchNormalizationForwardTrainingExWorkspaceSize(
      ctx.handle, kFusedMode, ops, xd, residual ? xd : nullptr, xd, pd, ad, &ws_bytes);
  if (st == CUDNN_STATUS_SUCCESS)
    st = A().cudnnGetBatchNormalizationTrainingExReserveSpaceSize(ctx.handle, kFusedMode, ops, ad, xd, &reserve_bytes);
  if (st != CUDNN_STATUS_SUCCESS) {
    if (refused(st)) return fall_back();
    throw_cudnn(st, op, "batch norm Ex workspace query", describe_args({{"x", &x}}));
  }
  // The reserve space carries the activation mask to cudnnBatchNormalizationBackwardEx: it
  // becomes a tensor the caller keeps with the forward's outputs (at least one byte, so an
  // empty reserve still marks "the fused kernel ran").
  Tensor reserve;
  void* ws = nullptr;
  if (!fused_memory([&] {
        reserve = new_tensor(ctx, {static_cast<int64_t>(reserve_bytes > 0 ? reserve_bytes : 1)}, DType::U8,
                             Layout::NCHW, op);
      }) ||
      !workspace_for_fused(ctx, ws_bytes, &ws, op))
    return fall_back();
  st = A().cudnnBatchNormalizationForwardTrainingEx(
      ctx.handle, kFusedMode, ops, &kOne, &kZero, xd, x.raw(), residual ? xd : nullptr,
      residual ? residual->raw() : nullptr, xd, y.raw(), pd, gamma.raw(), beta.raw(), momentum, running_mean.raw(),
      running_var.raw(), eps, save_mean.raw(), save_invstd.raw(), ad, ws, ws_bytes, reserve.raw(), reserve_bytes);
  if (st == CUDNN_STATUS_SUCCESS) {
    reserve_out = reserve;
    g_fused_forward++;
    return true;
  }
  if (refused(st)) return fall_back();
  throw_cudnn(st, op, "cudnnBatchNormalizationForwardTrainingEx", describe_args({{"x", &x}, {"residual", residual}}));
}

bool dnn_bn_backward_fused(DeviceContext& ctx, const Tensor& x, const Tensor& y, const Tensor& dy, const Tensor* dz,
                           const Tensor& dx, const Tensor& gamma, const Tensor& beta, const Tensor& dgamma,
                           const Tensor& dbeta, double eps, const Tensor& save_mean, const Tensor& save_invstd,
                           const Tensor& reserve) {
  const char* op = "batchNormBackward";
  if (!fused_bn_eligible(x, dz, true) || dy.dtype != x.dtype || dy.layout != x.layout) return false;
  const cudnnBatchNormOps_t ops = dz ? CUDNN_BATCHNORM_OPS_BN_ADD_ACTIVATION : CUDNN_BATCHNORM_OPS_BN_ACTIVATION;
  FusedBnDescs d(x, op);
  const cudnnTensorDescriptor_t xd = d.xd, pd = d.pd;
  const cudnnActivationDescriptor_t ad = d.ad;
  size_t ws_bytes = 0;
  cudnnStatus_t st = A().cudnnGetBatchNormalizationBackwardExWorkspaceSize(
      ctx.handle, kFusedMode, ops, xd, xd, xd, dz ? xd : nullptr, xd, pd, ad, &ws_bytes);
  if (st != CUDNN_STATUS_SUCCESS) {
    if (refused(st)) return fall_back();
    throw_cudnn(st, op, "batch norm backward Ex workspace query", describe_args({{"x", &x}}));
  }
  void* ws = nullptr;
  if (!workspace_for_fused(ctx, ws_bytes, &ws, op)) return fall_back();
  // dz: the residual's gradient, written by the same kernel (the masked dy).
  st = A().cudnnBatchNormalizationBackwardEx(
      ctx.handle, kFusedMode, ops, &kOne, &kZero, &kOne, &kZero, xd, x.raw(), xd, y.raw(), xd, dy.raw(),
      dz ? xd : nullptr, dz ? dz->raw() : nullptr, xd, dx.raw(), pd, gamma.raw(), beta.raw(), dgamma.raw(),
      dbeta.raw(), eps, save_mean.raw(), save_invstd.raw(), ad, ws, ws_bytes, reserve.raw(), reserve.nbytes());
  if (st == CUDNN_STATUS_SUCCESS) {
    g_fused_backward++;
    return true;
  }
  if (refused(st)) return fall_back();
  throw_cudnn(st, op, "cudnnBatchNormalizationBackwardEx", describe_args({{"x", &x}, {"dy", &dy}}));
}

bool dnn_bn_backward(DeviceContext& ctx, const Tensor& x, const Tensor& dy, const Tensor& dx, const Tensor& gamma,
                     const Tensor& dgamma, const Tensor& dbeta, double eps, const Tensor& save_mean,
                     const Tensor& save_invstd) {
  const char* op = "batchNormBackward";
  TensorDesc xd, pd;
  set_tensor(xd, x, op);
  set_tensor(pd, {1, x.dim(1), 1, 1}, DType::F32, Layout::NCHW, op);
  cudnnStatus_t st = A().cudnnBatchNormalizationBackward(
      ctx.handle, CUDNN_BATCHNORM_SPATIAL, &kOne, &kZero, &kOne, &kZero, xd, x.raw(), xd, dy.raw(), xd, dx.raw(), pd,
      gamma.raw(), dgamma.raw(), dbeta.raw(), eps, save_mean.raw(), save_invstd.raw());
  if (st == CUDNN_STATUS_SUCCESS) return true;
  if (refused(st)) return false;
  throw_cudnn(st, op, "cudnnBatchNormalizationBackward", describe_args({{"x", &x}, {"dy", &dy}}));
}

}  // namespace cuda

// ---------------------------------------------------------------- pooling

static void pool_desc(const cuda::PoolDesc& d, const Pool2dParams& p, bool deterministic, const char* op) {
  dnn::cudnnPoolingMode_t mode =
      p.mode == PoolMode::Max ? (deterministic ? dnn::CUDNN_POOLING_MAX_DETERMINISTIC : dnn::CUDNN_POOLING_MAX)
                              : (p.count_include_pad ? dnn::CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING
                                                     : dnn::CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING);
  CR_CUDNN_CHECK(dnn::api().cudnnSetPooling2dDescriptor(d, mode, dnn::CUDNN_NOT_PROPAGATE_NAN, p.kernel_h, p.kernel_w,
                                                        p.pad_h, p.pad_w, p.stride_h, p.stride_w),
                 op, "pooling window");
}

Tensor CudaBackend::pool2d_forward(const Tensor& x, const Pool2dParams& p) {
  cuda::DeviceGuard g(ctx_->index);
  const char* op = "pool2dForward";
  int64_t Ho = conv_out_size(x.dim(2), p.kernel_h, p.stride_h, p.pad_h, 1);
  int64_t Wo = conv_out_size(x.dim(3), p.kernel_w, p.stride_w, p.pad_w, 1);
  Tensor y = cuda::new_tensor(*ctx_, {x.dim(0), x.dim(1), Ho, Wo}, x.dtype, x.layout, op);
  cuda::TensorDesc xd, yd;
  cuda::dnnu::set_tensor(xd, x, op);
  cuda::dnnu::set_tensor(yd, y, op);
  // Max pooling's forward value does not depend on the tie rule; the backward's does.
  cuda::PoolDesc pd;
  pool_desc(pd, p, true, op);
  dnn::cudnnStatus_t st = dnn::api().cudnnPoolingForward(ctx_->handle, pd, &cuda::dnnu::kOne, xd, x.raw(), &cuda::dnnu::kZero, yd, y.raw());
  if (st != dnn::CUDNN_STATUS_SUCCESS && p.mode == PoolMode::Max && cuda::dnnu::refused(st)) {
    pool_desc(pd, p, false, op);
    st = dnn::api().cudnnPoolingForward(ctx_->handle, pd, &cuda::dnnu::kOne, xd, x.raw(), &cuda::dnnu::kZero, yd, y.raw());
  }
  CR_CUDNN_CHECK(st, op, cuda::describe_args({{"x", &x}}));
  return y;
}

Tensor CudaBackend::pool2d_backward(const Tensor& dy, const Tensor& x, const Tensor& y, const Pool2dParams& p) {
  cuda::DeviceGuard g(ctx_->index);
  const char* op = "pool2dBackward";
  // dx takes dy's dtype and layout, as on the CPU; x and y follow it.
  Tensor dyc = dy;
  Tensor xc = cuda::to_format(*ctx_, x, dy.dtype, dy.layout, op);
  Tensor yc = cuda::to_format(*ctx_, y, dy.dtype, dy.layout, op);
  Tensor dx = cuda::new_tensor(*ctx_, x.shape, dy.dtype, dy.layout, op);
  cuda::TensorDesc xd, yd;
  cuda::dnnu::set_tensor(xd, xc, op);
  cuda::dnnu::set_tensor(yd, yc, op);
  cuda::PoolDesc pd;
  pool_desc(pd, p, true, op);
  dnn::cudnnStatus_t st = dnn::api().cudnnPoolingBackward(ctx_->handle, pd, &cuda::dnnu::kOne, yd, yc.raw(), yd, dyc.raw(),
                                                         xd, xc.raw(), &cuda::dnnu::kZero, xd, dx.raw());
  if (st != dnn::CUDNN_STATUS_SUCCESS && p.mode == PoolMode::Max && cuda::dnnu::refused(st)) {
    pool_desc(pd, p, false, op);
    st = dnn::api().cudnnPoolingBackward(ctx_->handle, pd, &cuda::dnnu::kOne, yd, yc.raw(), yd, dyc.raw(), xd, xc.raw(),
                                         &cuda::dnnu::kZero, xd, dx.raw());
  }
  CR_CUDNN_CHECK(st, op, cuda::describe_args({{"dy", &dy}, {"x", &x}, {"y", &y}}));
  return dx;
}

FusedBnCounts cuda_fused_bn_counts() {
  return {cuda::g_fused_forward.load(), cuda::g_fused_backward.load(), cuda::g_fused_fallbacks.load()};
}

}  // namespace cr
