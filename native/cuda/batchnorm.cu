// cuDNN batch norm: the plain spatial kernels and the fused NHWC BN(+add)+ReLU ones. With
// conv.cu and pooling.cu this is the only code that calls cuDNN (besides handle creation in
// cuda_backend.cu), so swapping the legacy API for the graph API later rewrites those three.
// Our own BN kernels, and the op that chooses between them and these, are kernels/batchnorm.cu.
#include "batchnorm.h"

#include <atomic>

#include "dnn_util.h"
#include "kernels/kernels.h"
#include "policy/batchnorm.h"

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

static FusedBnArgs fused_args(const Tensor& x, const Tensor* residual, bool relu) {
  FusedBnArgs a;
  a.rank = x.rank();
  a.dtype = x.dtype;
  a.layout = x.layout;
  a.channels = x.rank() > 1 ? x.dim(1) : 0;
  a.relu = relu;
  a.residual = residual != nullptr;
  if (residual) {
    a.residual_dtype = residual->dtype;
    a.residual_layout = residual->layout;
  }
  return a;
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
    CR_CUDNN_CHECK(A().cudnnSetActivationDescriptor(ad, CUDNN_ACTIVATION_RELU, CUDNN_NOT_PROPAGATE_NAN, 0.0), op,
                   "relu");
  }
};

bool dnn_bn_forward_training_fused(DeviceContext& ctx, const Tensor& x, const Tensor* residual, bool relu,
                                   const Tensor& y, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                                   const Tensor& running_var, double momentum, double eps, const Tensor& save_mean,
                                   const Tensor& save_invstd, Tensor& reserve_out) {
  const char* op = "batchNormForwardTraining";
  if (!fused_bn_eligible(fused_args(x, residual, relu))) return false;
  const cudnnBatchNormOps_t ops = residual ? CUDNN_BATCHNORM_OPS_BN_ADD_ACTIVATION : CUDNN_BATCHNORM_OPS_BN_ACTIVATION;
  FusedBnDescs d(x, op);
  const cudnnTensorDescriptor_t xd = d.xd, pd = d.pd;
  const cudnnActivationDescriptor_t ad = d.ad;
  FusedBnSizes sz =
      fused_bn_forward_sizes(A(), ctx.handle, ops, xd, residual ? xd : nullptr, pd, ad, op, describe_args({{"x", &x}}));
  if (!sz.usable) return fall_back();
  const size_t ws_bytes = sz.workspace, reserve_bytes = sz.reserve;
  // The reserve space carries the activation mask to cudnnBatchNormalizationBackwardEx: it
  // becomes a tensor the caller keeps with the forward's outputs.
  Tensor reserve;
  void* ws = nullptr;
  if (!fused_memory(
          [&] { reserve = new_tensor(ctx, {static_cast<int64_t>(reserve_bytes)}, DType::U8, Layout::NCHW, op); }) ||
      !workspace_for_fused(ctx, ws_bytes, &ws, op))
    return fall_back();
  cudnnStatus_t st = A().cudnnBatchNormalizationForwardTrainingEx(
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
  if (!fused_bn_eligible(fused_args(x, dz, true)) || dy.dtype != x.dtype || dy.layout != x.layout) return false;
  const cudnnBatchNormOps_t ops = dz ? CUDNN_BATCHNORM_OPS_BN_ADD_ACTIVATION : CUDNN_BATCHNORM_OPS_BN_ACTIVATION;
  FusedBnDescs d(x, op);
  const cudnnTensorDescriptor_t xd = d.xd, pd = d.pd;
  const cudnnActivationDescriptor_t ad = d.ad;
  FusedBnSizes sz =
      fused_bn_backward_sizes(A(), ctx.handle, ops, xd, dz ? xd : nullptr, pd, ad, op, describe_args({{"x", &x}}));
  if (!sz.usable) return fall_back();
  const size_t ws_bytes = sz.workspace;
  void* ws = nullptr;
  if (!workspace_for_fused(ctx, ws_bytes, &ws, op)) return fall_back();
  // dz: the residual's gradient, written by the same kernel (the masked dy).
  cudnnStatus_t st = A().cudnnBatchNormalizationBackwardEx(
      ctx.handle, kFusedMode, ops, &kOne, &kZero, &kOne, &kZero, xd, x.raw(), xd, y.raw(), xd, dy.raw(),
      dz ? xd : nullptr, dz ? dz->raw() : nullptr, xd, dx.raw(), pd, gamma.raw(), beta.raw(), dgamma.raw(), dbeta.raw(),
      eps, save_mean.raw(), save_invstd.raw(), ad, ws, ws_bytes, reserve.raw(), reserve.nbytes());
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

FusedBnCounts cuda_fused_bn_counts() {
  return {cuda::g_fused_forward.load(), cuda::g_fused_backward.load(), cuda::g_fused_fallbacks.load()};
}

}  // namespace cr
