#include "cudnn_status.h"

#include "../../core/errors.h"

namespace cr {
namespace cuda {

using namespace dnn;

// cuDNN 9 groups its statuses by category (1xxx init, 2xxx BAD_PARAM, 3xxx NOT_SUPPORTED,
// 4xxx INTERNAL_ERROR, 5xxx EXECUTION_FAILED), but each of the 2xxx and 3xxx groups mixes
// "this configuration is not supported" with "this installation is broken". Only the former
// may send us down another path; a stream, graph, driver, runtime, architecture or
// sub-library mismatch would make every path fail or silently run the slow one.
StatusKind classify(cudnnStatus_t st) {
  switch (st) {
    case CUDNN_STATUS_SUCCESS: return StatusKind::Ok;
    case CUDNN_STATUS_BAD_PARAM:  // e.g. eps below CUDNN_BN_MIN_EPSILON
    case CUDNN_STATUS_INVALID_VALUE:
    case CUDNN_STATUS_BAD_PARAM_OUT_OF_BOUND:
    case CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT:  // workspace too small for this algorithm
    case CUDNN_STATUS_NOT_SUPPORTED:
    case CUDNN_STATUS_NOT_SUPPORTED_GRAPH_PATTERN:
    case CUDNN_STATUS_NOT_SUPPORTED_SHAPE:
    case CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE:
    case CUDNN_STATUS_NOT_SUPPORTED_LAYOUT:
    case CUDNN_STATUS_NOT_SUPPORTED_SHARED_MEMORY_INSUFFICIENT:
    case CUDNN_STATUS_NOT_SUPPORTED_PADDING:
    case CUDNN_STATUS_NOT_SUPPORTED_BAD_LAUNCH_PARAM: return StatusKind::Refused;
    case CUDNN_STATUS_NOT_INITIALIZED:
    case CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH:
    case CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED:
    case CUDNN_STATUS_LICENSE_ERROR:
    case CUDNN_STATUS_BAD_PARAM_STREAM_MISMATCH:
    case CUDNN_STATUS_BAD_PARAM_CUDA_GRAPH_MISMATCH:
    case CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDA_DRIVER:
    case CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDART:
    case CUDNN_STATUS_NOT_SUPPORTED_ARCH_MISMATCH:
    case CUDNN_STATUS_NOT_SUPPORTED_RUNTIME_PREREQUISITE_MISSING:
    case CUDNN_STATUS_NOT_SUPPORTED_SUBLIBRARY_UNAVAILABLE: return StatusKind::Environment;
    case CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED:  // device memory: emptying our cache may help
      return StatusKind::OutOfMemory;
    default: return StatusKind::Failed;
  }
}

const char* environment_hint(cudnnStatus_t st) {
  switch (st) {
    case CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDA_DRIVER:
      return "the NVIDIA driver is older than this cuDNN needs: update the driver, or install a cuDNN 9 build "
             "for the CUDA version the driver supports";
    case CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDART:
      return "this cuDNN was built for another CUDA major version than the addon's runtime: install the cuDNN 9 "
             "package for CUDA 13 (e.g. nvidia-cudnn-cu13) or point CUDNN_LIBRARY_PATH at it";
    case CUDNN_STATUS_NOT_SUPPORTED_ARCH_MISMATCH:
      return "this cuDNN has no kernels for this GPU's architecture: install a newer cuDNN 9 release";
    case CUDNN_STATUS_NOT_SUPPORTED_RUNTIME_PREREQUISITE_MISSING:
      return "cuDNN could not find a library it needs at run time (libcuda.so, libnvrtc.so): install the CUDA "
             "runtime libraries (NVRTC) next to cuDNN or add them to LD_LIBRARY_PATH";
    case CUDNN_STATUS_NOT_SUPPORTED_SUBLIBRARY_UNAVAILABLE:
    case CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED:
    case CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH:
      return "a cuDNN sub-library (libcudnn_ops, libcudnn_cnn, libcudnn_engines_*) is missing or from another "
             "release: reinstall cuDNN 9 so that all its libraries sit in one folder";
    case CUDNN_STATUS_BAD_PARAM_STREAM_MISMATCH:
    case CUDNN_STATUS_BAD_PARAM_CUDA_GRAPH_MISMATCH:
      return "cuDNN saw another stream or graph than the one it was bound to (another library changed the "
             "current device or stream): report this with the op and shapes";
    case CUDNN_STATUS_NOT_INITIALIZED:
    case CUDNN_STATUS_LICENSE_ERROR:
      return "cuDNN could not initialise on this GPU: check the driver with nvidia-smi and reinstall cuDNN 9";
    default: return "";
  }
}

void throw_status(const Api& a, cudnnStatus_t st, const char* op, const std::string& what, const std::string& detail) {
  std::string msg = std::string(op) + ": cuDNN " + (a.cudnnGetErrorString ? a.cudnnGetErrorString(st) : "error") +
                    " (" + std::to_string(static_cast<int>(st)) + ") in " + what;
  if (a.cudnnGetLastErrorString) {
    char buf[512] = {0};
    a.cudnnGetLastErrorString(buf, sizeof buf);
    if (buf[0]) msg += " [" + std::string(buf) + "]";
  }
  if (!detail.empty()) msg += "; " + detail;
  StatusKind kind = classify(st);
  if (kind == StatusKind::Environment) msg += "; " + std::string(environment_hint(st));
  bool oom = kind == StatusKind::OutOfMemory;
  throw OpError(oom ? ErrorKind::OutOfMemory : ErrorKind::Runtime, msg, oom ? "ERR_CUDA_OOM" : "ERR_CUDNN");
}

}  // namespace cuda
}  // namespace cr
