// Entry point of the CUDA backend, compiled only when CMake finds nvcc (CR_WITH_CUDA).
#pragma once
#include <string>

#include "../core/backend.h"

namespace cr {

// The backend for cuda:<index>; throws OpError (ERR_CUDA_UNAVAILABLE) naming the reason when
// there is no usable GPU, driver or cuDNN.
Backend& cuda_backend(int index);

}  // namespace cr
