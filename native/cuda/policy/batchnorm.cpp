#include "batchnorm.h"

#include "cudnn_status.h"

namespace cr {
namespace cuda {

using namespace dnn;

static const cudnnBatchNormMode_t kFusedMode = CUDNN_BATCHNORM_SPATIAL_PERSISTENT;

bool fused_bn_eligible(const FusedBnArgs& a) {
  // bf16 is not in cuDNN's documented support for these kernels (PyTorch keeps it off too):
  // it takes the plain cuDNN path or our kernels.
  return a.rank == 4 && a.layout == Layout::NHWC && a.dtype == DType::F16 && a.channels % 4 == 0 && a.relu &&
         (!a.residual || (a.residual_dtype == a.dtype && a.residual_layout == a.layout));
}

FusedBnSizes fused_bn_forward_sizes(const Api& api, cudnnHandle_t h, cudnnBatchNormOps_t ops,
                                    cudnnTensorDescriptor_t xd, cudnnTensorDescriptor_t zd, cudnnTensorDescriptor_t pd,
                                    cudnnActivationDescriptor_t ad, const char* op, const std::string& detail) {
  FusedBnSizes s;
  cudnnStatus_t st = api.cudnnGetBatchNormalizationForwardTrainingExWorkspaceSize(h, kFusedMode, ops, xd, zd, xd, pd,
                                                                                  ad, &s.workspace);
  if (st == CUDNN_STATUS_SUCCESS)
    st = api.cudnnGetBatchNormalizationTrainingExReserveSpaceSize(h, kFusedMode, ops, ad, xd, &s.reserve);
  if (st != CUDNN_STATUS_SUCCESS) {
    if (refused(st)) return FusedBnSizes{};
    throw_status(api, st, op, "batch norm Ex workspace query", detail);
  }
  s.usable = ops == CUDNN_BATCHNORM_OPS_BN || (s.workspace > 0 && s.reserve > 0);
  return s;
}

FusedBnSizes fused_bn_backward_sizes(const Api& api, cudnnHandle_t h, cudnnBatchNormOps_t ops,
                                     cudnnTensorDescriptor_t xd, cudnnTensorDescriptor_t dzd,
                                     cudnnTensorDescriptor_t pd, cudnnActivationDescriptor_t ad, const char* op,
                                     const std::string& detail) {
  FusedBnSizes s;
  cudnnStatus_t st = api.cudnnGetBatchNormalizationBackwardExWorkspaceSize(h, kFusedMode, ops, xd, xd, xd, dzd, xd, pd,
                                                                           ad, &s.workspace);
  if (st != CUDNN_STATUS_SUCCESS) {
    if (refused(st)) return FusedBnSizes{};
    throw_status(api, st, op, "batch norm backward Ex workspace query", detail);
  }
  s.usable = ops == CUDNN_BATCHNORM_OPS_BN || s.workspace > 0;
  return s;
}

}  // namespace cuda
}  // namespace cr
