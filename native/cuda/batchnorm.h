// cuDNN's batch-norm kernels (batchnorm.cu), called by the batch-norm op in
// kernels/batchnorm.cu, which falls back to its own kernels when these decline.
#pragma once
#include <string>
#include <vector>

#include "../core/tensor.h"
#include "context.h"

namespace cr {
namespace cuda {

// Batch norm via cuDNN (spatial mode). Each returns false, having written nothing, when cuDNN
// refuses the configuration (unsupported dtype/layout, eps below its minimum), so the caller
// can take the kernel path; other failures throw.
bool dnn_bn_forward_training(DeviceContext& ctx, const Tensor& x, const Tensor& y, const Tensor& gamma,
                             const Tensor& beta, const Tensor& running_mean, const Tensor& running_var, double momentum,
                             double eps, const Tensor& save_mean, const Tensor& save_invstd);
// The fused variant for NHWC fp16 (C % 4 == 0) with ReLU: y = relu(bn(x) + residual)
// in one cuDNN kernel (cudnnBatchNormalizationForwardTrainingEx, persistent spatial mode).
// On success `reserve_out` holds the kernel's reserve space for dnn_bn_backward_fused.
// Returns false when the shape does not qualify or cuDNN refuses; the caller then runs the
// plain path and our epilogue.
bool dnn_bn_forward_training_fused(DeviceContext& ctx, const Tensor& x, const Tensor* residual, bool relu,
                                   const Tensor& y, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                                   const Tensor& running_var, double momentum, double eps, const Tensor& save_mean,
                                   const Tensor& save_invstd, Tensor& reserve_out);
// Its backward (cudnnBatchNormalizationBackwardEx): dx, dgamma, dbeta and, when dz is given
// (the forward added a residual), the residual's gradient, from the forward's y and reserve.
// dy must be in x's dtype and layout. False when cuDNN refuses (nothing written).
bool dnn_bn_backward_fused(DeviceContext& ctx, const Tensor& x, const Tensor& y, const Tensor& dy, const Tensor* dz,
                           const Tensor& dx, const Tensor& gamma, const Tensor& beta, const Tensor& dgamma,
                           const Tensor& dbeta, double eps, const Tensor& save_mean, const Tensor& save_invstd,
                           const Tensor& reserve);
bool dnn_bn_backward(DeviceContext& ctx, const Tensor& x, const Tensor& dy, const Tensor& dx, const Tensor& gamma,
                     const Tensor& dgamma, const Tensor& dbeta, double eps, const Tensor& save_mean,
                     const Tensor& save_invstd);

}  // namespace cuda
}  // namespace cr
