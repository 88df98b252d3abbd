// Fused batch-norm eligibility (native/cuda/policy/batchnorm.cpp) against the scripted cuDNN.
#include "../../../../native/core/errors.h"
#include "../../../../native/cuda/policy/batchnorm.h"
#include "fake_cudnn.h"
#include "harness.h"

using namespace cr;
using namespace cr::cuda;
using namespace cr::dnn;

// Item 1: cuDNN documents the Ex kernels for NHWC-packed CUDNN_DATA_HALF only.
TEST(bn_fused_fp16_only) {
  FusedBnArgs a;
  a.channels = 64;
  CHECK(fused_bn_eligible(a));
  a.dtype = DType::BF16;
  CHECK(!fused_bn_eligible(a));
  a.dtype = DType::F32;
  CHECK(!fused_bn_eligible(a));
  a.dtype = DType::F16;
  a.layout = Layout::NCHW;
  CHECK(!fused_bn_eligible(a));
  a.layout = Layout::NHWC;
  a.channels = 6;
  CHECK(!fused_bn_eligible(a));
  a.channels = 8;
  a.relu = false;
  CHECK(!fused_bn_eligible(a));
  a.relu = true;
  a.residual = true;
  CHECK(fused_bn_eligible(a));
  a.residual_dtype = DType::F32;
  CHECK(!fused_bn_eligible(a));
}

// Item 2: a zero workspace (or reserve) would make cuDNN run the Ex call as the plain one,
// without the add and the ReLU, and still report success: such a size means "do not fuse".
TEST(bn_fused_zero_sizes_decline) {
  const cudnnBatchNormOps_t ops[] = {CUDNN_BATCHNORM_OPS_BN_ACTIVATION, CUDNN_BATCHNORM_OPS_BN_ADD_ACTIVATION};
  for (cudnnBatchNormOps_t o : ops) {
    fake::reset();
    CHECK(fused_bn_forward_sizes(fake::api(), nullptr, o, nullptr, nullptr, nullptr, nullptr, "bn", "").usable);
    CHECK(fused_bn_backward_sizes(fake::api(), nullptr, o, nullptr, nullptr, nullptr, nullptr, "bn", "").usable);
    fake::script().bn_workspace = 0;
    CHECK(!fused_bn_forward_sizes(fake::api(), nullptr, o, nullptr, nullptr, nullptr, nullptr, "bn", "").usable);
    fake::script().bn_workspace = 1024;
    fake::script().bn_reserve = 0;
    CHECK(!fused_bn_forward_sizes(fake::api(), nullptr, o, nullptr, nullptr, nullptr, nullptr, "bn", "").usable);
    fake::script().bn_backward_workspace = 0;
    CHECK(!fused_bn_backward_sizes(fake::api(), nullptr, o, nullptr, nullptr, nullptr, nullptr, "bn", "").usable);
  }
}

// A refusal declines (the plain path runs); a broken installation is raised.
TEST(bn_fused_statuses) {
  fake::reset();
  fake::script().bn_status = CUDNN_STATUS_NOT_SUPPORTED;
  CHECK(!fused_bn_forward_sizes(fake::api(), nullptr, CUDNN_BATCHNORM_OPS_BN_ACTIVATION, nullptr, nullptr, nullptr,
                                nullptr, "bn", "")
             .usable);
  fake::script().bn_status = CUDNN_STATUS_NOT_SUPPORTED_ARCH_MISMATCH;
  CHECK_THROWS_CODE(fused_bn_forward_sizes(fake::api(), nullptr, CUDNN_BATCHNORM_OPS_BN_ACTIVATION, nullptr, nullptr,
                                           nullptr, nullptr, "bn", ""),
                    std::string("ERR_CUDNN"));
}
