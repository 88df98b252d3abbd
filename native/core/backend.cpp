#include "backend.h"

#include "../cpu/cpu_backend.h"
#include "errors.h"
#ifdef CR_WITH_CUDA
#include "../cuda/cuda_backend.h"
#endif

namespace cr {

Backend& cpu_backend() {
  static CpuBackend* b = new CpuBackend();  // leaked: outlives every tensor at exit
  return *b;
}

Backend& backend_for(const Device& device) {
  if (device.type == DeviceType::CPU) return cpu_backend();
#ifdef CR_WITH_CUDA
  return cuda_backend(device.index);  // throws with the reason when unavailable
#else
  throw OpError(ErrorKind::Runtime,
                "device " + device.str() + " is unavailable: this build of cudnn-resnet has no CUDA backend",
                "ERR_CUDA_UNAVAILABLE");
#endif
}

}  // namespace cr
