// PLACEHOLDER: the CUDA backend proper arrives with the CUDA-backend issue. This file keeps
// the toolchain wired (nvcc, static runtime, the architecture list) from day one.
#include <cuda_runtime.h>

#include "../core/errors.h"
#include "cuda_backend.h"

namespace cr {

Backend& cuda_backend(int index) {
  int count = 0;
  cudaError_t st = cudaGetDeviceCount(&count);
  std::string why = st != cudaSuccess ? std::string(cudaGetErrorString(st))
                                      : (index >= count ? "no device cuda:" + std::to_string(index) : "CUDA ops are not implemented yet");
  throw OpError(ErrorKind::Runtime, "cuda:" + std::to_string(index) + " is unavailable: " + why, "ERR_CUDA_UNAVAILABLE");
}

}  // namespace cr
