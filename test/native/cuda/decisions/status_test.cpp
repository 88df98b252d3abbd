// refused() classification (native/cuda/policy/cudnn_status.cpp), the capture rules and the
// legacy descriptors' size limit.
#include <climits>

#include "../../../../native/core/errors.h"
#include "../../../../native/cuda/policy/capture.h"
#include "../../../../native/cuda/policy/cudnn_status.h"
#include "../../../../native/cuda/policy/legacy_dims.h"
#include "fake_cudnn.h"
#include "harness.h"

using namespace cr::cuda;
using namespace cr::dnn;

// Item 6: cuDNN 9's 2xxx and 3xxx groups mix "not supported here" with a broken
// installation (values from cudnn_graph.h of cuDNN 9). Only the former may send an op down
// another path.
TEST(status_refused_is_a_whitelist) {
  const cudnnStatus_t refusals[] = {CUDNN_STATUS_BAD_PARAM,
                                    CUDNN_STATUS_NOT_SUPPORTED,
                                    CUDNN_STATUS_NOT_SUPPORTED_SHAPE,
                                    CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE,
                                    CUDNN_STATUS_NOT_SUPPORTED_LAYOUT,
                                    CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT,
                                    CUDNN_STATUS_NOT_SUPPORTED_SHARED_MEMORY_INSUFFICIENT};
  for (cudnnStatus_t st : refusals) CHECK(refused(st));
  const cudnnStatus_t environment[] = {CUDNN_STATUS_BAD_PARAM_STREAM_MISMATCH,
                                       CUDNN_STATUS_BAD_PARAM_CUDA_GRAPH_MISMATCH,
                                       CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDA_DRIVER,
                                       CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDART,
                                       CUDNN_STATUS_NOT_SUPPORTED_ARCH_MISMATCH,
                                       CUDNN_STATUS_NOT_SUPPORTED_RUNTIME_PREREQUISITE_MISSING,
                                       CUDNN_STATUS_NOT_SUPPORTED_SUBLIBRARY_UNAVAILABLE,
                                       CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED};
  for (cudnnStatus_t st : environment) {
    CHECK(!refused(st));
    CHECK(classify(st) == StatusKind::Environment);
    CHECK(std::string(environment_hint(st)).size() > 10);
  }
  CHECK(classify(CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED) == StatusKind::OutOfMemory);
  CHECK(classify(CUDNN_STATUS_EXECUTION_FAILED) == StatusKind::Failed);
  CHECK(classify(CUDNN_STATUS_INTERNAL_ERROR) == StatusKind::Failed);
  CHECK(!refused(CUDNN_STATUS_BAD_PARAM_NULL_POINTER));  // our bug, not cuDNN's limit
}

TEST(status_environment_error_says_what_to_install) {
  fake::reset();
  bool threw = false;
  try {
    throw_status(fake::api(), CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDART, "conv2dForward", "x", "detail");
  } catch (const cr::OpError& e) {
    threw = true;
    CHECK(std::string(e.what()).find("install") != std::string::npos);
    CHECK_EQ(e.code(), std::string("ERR_CUDNN"));
  }
  CHECK(threw);
  CHECK_THROWS_CODE(throw_status(fake::api(), CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED, "op", "x", ""),
                    std::string("ERR_CUDA_OOM"));
}

// Calls that wait for the stream, free memory or read to the host are refused during a
// capture; allocation from the capture's pool and a convolution already chosen are not.
TEST(capture_refuses_syncing_calls) {
  const HostCall refused_calls[] = {HostCall::Synchronize,   HostCall::CopyToHost,    HostCall::CopyToHostAsync,
                                    HostCall::CopyFromHost,  HostCall::EmptyCache,    HostCall::ConvSearch,
                                    HostCall::GrowWorkspace, HostCall::TimerStart,    HostCall::TimerStop,
                                    HostCall::GraphReplay,   HostCall::FreeHostBuffer};
  for (HostCall c : refused_calls) CHECK(capture_refusal(c) != nullptr);
  CHECK(capture_refusal(HostCall::AllocateFromPool) == nullptr);
  CHECK(capture_refusal(HostCall::RunCachedConv) == nullptr);
  CHECK_THROWS_CODE(throw_capture_forbidden(0, "synchronize", capture_refusal(HostCall::Synchronize)),
                    std::string("ERR_CAPTURE_FORBIDDEN"));
}

// Legacy descriptors take int dimensions: 2^31 elements or more get a clear RangeError.
TEST(legacy_descriptor_size_limit) {
  check_legacy_dims({128, 64, 112, 112}, "conv2dForward");
  check_legacy_dims({1, 1, 46340, 46340}, "conv2dForward");  // just under 2^31: fits
  CHECK_THROWS_CODE(check_legacy_dims({2048, 64, 128, 128}, "conv2dForward"), std::string("ERR_OUT_OF_RANGE"));
  CHECK_THROWS_CODE(check_legacy_dims({int64_t{INT_MAX} + 1, 1, 1, 1}, "conv2dForward"),
                    std::string("ERR_OUT_OF_RANGE"));
}
