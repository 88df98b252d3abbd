// Which backend serves a device. This is the only file that knows both backends: core/
// declares backend_for() without depending on cpu/ or cuda/, and a build without CUDA links
// cuda/placeholders.cpp, whose cuda_backend() raises "cuda:N is unavailable: <why>" exactly
// as the real one does on a machine without a usable GPU.
#include "../core/backend.h"
#include "../cpu/cpu_backend.h"
#include "../cuda/cuda_backend.h"

namespace cr {

Backend& backend_for(const Device& device) {
  if (device.type == DeviceType::CPU) return cpu_backend();
  return cuda_backend(device.index);  // throws ERR_CUDA_UNAVAILABLE with the reason
}

}  // namespace cr
