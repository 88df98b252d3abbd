// The cuDNN module (dnn_conv.cu: convolution; dnn_ops.cu: batch norm, pooling) is the only
// code that calls cuDNN besides handle creation in cuda_backend.cu: swapping the deprecated
// legacy API for the graph API later means rewriting this module alone.
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
// The fused variant for NHWC fp16/bf16 (C % 4 == 0): y = act(bn(x) + residual) in one
// cuDNN kernel (cudnnBatchNormalizationForwardTrainingEx, persistent spatial mode). Returns
// false when cuDNN refuses; the caller then runs the plain path and our epilogue.
bool dnn_bn_forward_training_fused(DeviceContext& ctx, const Tensor& x, const Tensor* residual, bool relu,
                                   const Tensor& y, const Tensor& gamma, const Tensor& beta,
                                   const Tensor& running_mean, const Tensor& running_var, double momentum, double eps,
                                   const Tensor& save_mean, const Tensor& save_invstd);
bool dnn_bn_backward(DeviceContext& ctx, const Tensor& x, const Tensor& dy, const Tensor& dx, const Tensor& gamma,
                     const Tensor& dgamma, const Tensor& dbeta, double eps, const Tensor& save_mean,
                     const Tensor& save_invstd);

// The algorithms chosen so far, one line per cached shape ("fwd x[..] w[..] fp32 NCHW fma:
// IMPLICIT_PRECOMP_GEMM (ws 0 B)"), for the benchmark report.
std::vector<std::string> conv_algorithm_report();

}  // namespace cuda
}  // namespace cr
