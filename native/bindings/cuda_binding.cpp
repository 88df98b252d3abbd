// CUDA availability, versions and allocator statistics. Compiles in both builds: without
// CR_WITH_CUDA it reports that the backend was not compiled in. None of these throw for lack
// of a GPU, driver or cuDNN (cudaMemoryStats excepted: it names an unusable device).
#include "../core/errors.h"
#include "args.h"
#include "ops.h"
#ifdef CR_WITH_CUDA
#include "../cuda/cuda_backend.h"
#endif

namespace crjs {

Napi::Value CudaInfo(const Napi::CallbackInfo& info) {
  Args a(info, "cudaInfo", 0);
  Napi::Env env = a.env();
  Napi::Object o = Napi::Object::New(env);
  Napi::Array devices = Napi::Array::New(env);
  Napi::Array searched = Napi::Array::New(env);
  Napi::Array algos = Napi::Array::New(env);
#ifdef CR_WITH_CUDA
  cr::CudaInfo ci = cr::cuda_info();
  o.Set("compiled", true);
  o.Set("available", ci.available);
  o.Set("reason", ci.reason);
  o.Set("deviceCount", static_cast<double>(ci.device_count));
  for (size_t i = 0; i < ci.devices.size(); i++) {
    const cr::CudaDeviceInfo& d = ci.devices[i];
    Napi::Object od = Napi::Object::New(env);
    od.Set("index", static_cast<double>(d.index));
    od.Set("name", d.name);
    od.Set("computeCapability", std::to_string(d.major) + "." + std::to_string(d.minor));
    od.Set("totalMemory", static_cast<double>(d.total_memory));
    devices.Set(static_cast<uint32_t>(i), od);
  }
  o.Set("driverVersion", static_cast<double>(ci.driver_version));
  o.Set("runtimeVersion", static_cast<double>(ci.runtime_version));
  o.Set("cudnnVersion", static_cast<double>(ci.cudnn_version));
  o.Set("cudnnPath", ci.cudnn_path);
  for (size_t i = 0; i < ci.searched.size(); i++) searched.Set(static_cast<uint32_t>(i), ci.searched[i]);
  std::vector<std::string> al = cr::cuda_conv_algorithms();
  for (size_t i = 0; i < al.size(); i++) algos.Set(static_cast<uint32_t>(i), al[i]);
#else
  o.Set("compiled", false);
  o.Set("available", false);
  o.Set("reason", "this build of cudnn-resnet has no CUDA backend (it was built without nvcc or with CR_CUDA=OFF)");
  o.Set("deviceCount", 0.0);
  o.Set("driverVersion", 0.0);
  o.Set("runtimeVersion", 0.0);
  o.Set("cudnnVersion", 0.0);
  o.Set("cudnnPath", "");
#endif
  o.Set("devices", devices);
  o.Set("searched", searched);
  o.Set("convAlgorithms", algos);
  return o;
}

Napi::Value CudaMemoryStats(const Napi::CallbackInfo& info) {
  Args a(info, "cudaMemoryStats", 1);
  int64_t device = a.integer(0, "device", 0, 1023);
#ifdef CR_WITH_CUDA
  cr::CudaMemoryStats m = cr::cuda_memory_stats(static_cast<int>(device));
  Napi::Object o = Napi::Object::New(a.env());
  o.Set("allocated", static_cast<double>(m.allocated));
  o.Set("reserved", static_cast<double>(m.reserved));
  o.Set("peakAllocated", static_cast<double>(m.peak_allocated));
  o.Set("peakReserved", static_cast<double>(m.peak_reserved));
  o.Set("cachedBlocks", static_cast<double>(m.cached_blocks));
  o.Set("mallocCalls", static_cast<double>(m.malloc_calls));
  o.Set("cacheHits", static_cast<double>(m.cache_hits));
  o.Set("oomRetries", static_cast<double>(m.oom_retries));
  o.Set("workspace", static_cast<double>(m.workspace));
  return o;
#else
  throw cr::OpError(cr::ErrorKind::Runtime,
                    "cudaMemoryStats: device cuda:" + std::to_string(device) +
                        " is unavailable: this build of cudnn-resnet has no CUDA backend",
                    "ERR_CUDA_UNAVAILABLE");
#endif
}

Napi::Value CudaEmptyCache(const Napi::CallbackInfo& info) {
  Args a(info, "cudaEmptyCache", 0);
#ifdef CR_WITH_CUDA
  cr::cuda_empty_cache();
#endif
  return a.env().Undefined();
}

}  // namespace crjs
