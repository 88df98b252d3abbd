// When cuDNN's fused batch-norm kernels (BN + ReLU, BN + add + ReLU in one pass, forward and
// backward) may take a call. Plain C++ on cudnn_api.h's types, so the decision tests can
// script cuDNN's answers; batchnorm.cu makes the calls.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "../../core/dtype.h"
#include "../cudnn_api.h"

namespace cr {
namespace cuda {

struct FusedBnArgs {
  int rank = 4;
  DType dtype = DType::F16;
  Layout layout = Layout::NHWC;
  int64_t channels = 0;
  bool relu = true;
  bool residual = false;  // with the residual's dtype and layout:
  DType residual_dtype = DType::F16;
  Layout residual_layout = Layout::NHWC;
};

// cuDNN documents the Ex kernels for NHWC-packed CUDNN_DATA_HALF only (persistent spatial
// mode); C % 4 == 0; the add only before an activation; the residual like x.
bool fused_bn_eligible(const FusedBnArgs& a);

struct FusedBnSizes {
  bool usable = false;  // false: take the plain path (cuDNN refused, or would not fuse)
  size_t workspace = 0, reserve = 0;
};

// The forward's workspace and reserve sizes for `ops` (BN_ACTIVATION or BN_ADD_ACTIVATION).
// A size of 0 makes the call unusable: cuDNN runs the Ex call with a NULL workspace as the
// plain one (no add, no ReLU) and still reports success, and the backward needs the reserve
// (the activation mask). Non-refusal statuses throw.
FusedBnSizes fused_bn_forward_sizes(const dnn::Api& api, dnn::cudnnHandle_t h, dnn::cudnnBatchNormOps_t ops,
                                    dnn::cudnnTensorDescriptor_t xd, dnn::cudnnTensorDescriptor_t zd,
                                    dnn::cudnnTensorDescriptor_t pd, dnn::cudnnActivationDescriptor_t ad,
                                    const char* op, const std::string& detail);
// The backward's workspace size (its reserve is the forward's); 0 is unusable as above.
FusedBnSizes fused_bn_backward_sizes(const dnn::Api& api, dnn::cudnnHandle_t h, dnn::cudnnBatchNormOps_t ops,
                                     dnn::cudnnTensorDescriptor_t xd, dnn::cudnnTensorDescriptor_t dzd,
                                     dnn::cudnnTensorDescriptor_t pd, dnn::cudnnActivationDescriptor_t ad,
                                     const char* op, const std::string& detail);

}  // namespace cuda
}  // namespace cr
