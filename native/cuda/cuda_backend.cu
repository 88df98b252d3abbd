// The CUDA runtime layer: device discovery, one context (stream, cuDNN handle, allocator)
// per GPU created on first use, tensor allocation and copies, and the availability report.
// Op families live in conv.cu, batchnorm.cu, pooling.cu (cuDNN) and kernels/*.cu (our own).
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <cstring>
#include <mutex>
#include <vector>

#include "../core/errors.h"
#include "common.h"
#include "context.h"
#include "cuda_backend.h"
#include "cudnn_loader.h"
#include "policy/capture.h"
#include "policy/cudnn_status.h"

namespace cr {
namespace cuda {

[[noreturn]] void throw_cuda(cudaError_t st, const char* op, const char* what, const std::string& detail) {
  cudaGetLastError();
  std::string msg = std::string(op) + ": " + cudaGetErrorName(st) + " (" + cudaGetErrorString(st) + ") in " + what;
  if (!detail.empty()) msg += "; " + detail;
  if (st == cudaErrorMemoryAllocation) throw OpError(ErrorKind::OutOfMemory, msg, "ERR_CUDA_OOM");
  throw OpError(ErrorKind::Runtime, msg, "ERR_CUDA");
}

[[noreturn]] void throw_cudnn(dnn::cudnnStatus_t st, const char* op, const char* what, const std::string& detail) {
  throw_status(dnn::api(), st, op, what, detail);
}

const DeviceMemory& cuda_device_memory() {
  static const DeviceMemory m{
      [](int device, size_t bytes, bool capturing) -> void* {
        DeviceGuard g(device);
        void* p = nullptr;
        cudaError_t st;
        if (capturing) {
          cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
          cudaThreadExchangeStreamCaptureMode(&mode);
          st = cudaMalloc(&p, bytes);
          cudaThreadExchangeStreamCaptureMode(&mode);
        } else {
          st = cudaMalloc(&p, bytes);
        }
        if (st == cudaSuccess) return p;
        cudaGetLastError();  // clear the (non-sticky) allocation error
        return nullptr;
      },
      [](int device, void* p) {
        DeviceGuard g(device);
        if (cudaFree(p) == cudaSuccess) return true;
        cudaGetLastError();
        return false;
      },
      [](int device, size_t* free_bytes, size_t* total_bytes) {
        DeviceGuard g(device);
        *free_bytes = *total_bytes = 0;
        if (cudaMemGetInfo(free_bytes, total_bytes) != cudaSuccess) cudaGetLastError();
      },
  };
  return m;
}

DeviceGuard::DeviceGuard(int device) {
  if (cudaGetDevice(&prev_) == cudaSuccess && prev_ != device) {
    changed_ = cudaSetDevice(device) == cudaSuccess;
  }
}
DeviceGuard::~DeviceGuard() {
  if (changed_) cudaSetDevice(prev_);
}

std::string describe_args(std::initializer_list<std::pair<const char*, const Tensor*>> args) {
  std::string out;
  for (const auto& a : args) {
    if (!a.second || !a.second->defined()) continue;
    if (!out.empty()) out += ", ";
    out += std::string(a.first) + " " + a.second->describe();
  }
  return out;
}

Tensor new_tensor(DeviceContext& ctx, const Shape& shape, DType dtype, Layout layout, const char* op) {
  Tensor t;
  t.shape = shape;
  t.dtype = dtype;
  t.layout = shape.size() == 4 ? layout : Layout::NCHW;
  size_t bytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
  void* p = ctx.alloc.allocate(bytes, op, shape_str(shape) + " " + dtype_name(dtype));
  CachingAllocator* alloc = &ctx.alloc;
  t.storage = std::make_shared<Storage>(p, bytes, Device{DeviceType::CUDA, ctx.index},
                                        [alloc](void* ptr, size_t) { alloc->release(ptr); });
  return t;
}

int grid_for(const DeviceContext& ctx, int64_t n, int threads) {
  int64_t blocks = (n + threads - 1) / threads;
  int64_t cap = static_cast<int64_t>(ctx.sm_count) * 16;
  if (blocks > cap) blocks = cap;
  return static_cast<int>(blocks < 1 ? 1 : blocks);
}

}  // namespace cuda

// ---------------------------------------------------------------- availability

namespace {

struct Discovery {
  int count = 0;
  std::string gpu_reason;  // why there is no usable GPU; empty when count > 0
};

const Discovery& discover() {
  static Discovery d = [] {
    Discovery r;
    cudaError_t st = cudaGetDeviceCount(&r.count);
    if (st != cudaSuccess) {
      cudaGetLastError();
      r.count = 0;
      r.gpu_reason = std::string("no usable NVIDIA GPU or driver: cudaGetDeviceCount failed with ") +
                     cudaGetErrorName(st) + " (" + cudaGetErrorString(st) + ")";
      // The static runtime reports a missing driver as "insufficient"; say what is missing.
      if (void* h = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL)) {
        dlclose(h);
      } else {
        const char* e = dlerror();
        r.gpu_reason +=
            std::string("; the NVIDIA driver library libcuda.so.1 was not found (") + (e ? e : "dlopen failed") + ")";
      }
    } else if (r.count == 0) {
      r.gpu_reason = "no CUDA device is visible (check CUDA_VISIBLE_DEVICES)";
    }
    return r;
  }();
  return d;
}

std::mutex g_ctx_mu;
std::vector<DeviceContext*>& contexts() {
  static std::vector<DeviceContext*> v;
  return v;
}

[[noreturn]] void unavailable(int index, const std::string& why) {
  throw OpError(ErrorKind::Runtime, "cuda:" + std::to_string(index) + " is unavailable: " + why,
                "ERR_CUDA_UNAVAILABLE");
}

}  // namespace

DeviceContext::DeviceContext(int idx) : index(idx), alloc(idx, cuda::cuda_device_memory()), backend(this) {
  cuda::DeviceGuard g(idx);
  cudaError_t st = cudaSetDevice(idx);
  if (st == cudaSuccess) st = cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
  if (st == cudaSuccess) st = cudaDeviceGetAttribute(&sm_count, cudaDevAttrMultiProcessorCount, idx);
  if (st != cudaSuccess) {
    cudaGetLastError();
    unavailable(idx, std::string("could not initialise the device: ") + cudaGetErrorName(st) + " (" +
                         cudaGetErrorString(st) + ")");
  }
  const dnn::Api& a = dnn::api();
  dnn::cudnnStatus_t ds = a.cudnnCreate(&handle);
  if (ds == dnn::CUDNN_STATUS_SUCCESS) ds = a.cudnnSetStream(handle, stream);
  if (ds != dnn::CUDNN_STATUS_SUCCESS) {
    char buf[512] = {0};
    a.cudnnGetLastErrorString(buf, sizeof buf);
    unavailable(idx, std::string("cuDNN (") + dnn::load().path + ") could not start on this GPU: " +
                         a.cudnnGetErrorString(ds) + (buf[0] ? std::string(" [") + buf + "]" : ""));
  }
}

void* DeviceContext::workspace(size_t bytes, const char* op) {
  if (bytes <= ws_bytes_) return ws_;
  cuda::throw_if_capturing(*this, op, cuda::HostCall::GrowWorkspace);
  if (ws_) {
    if (live_graphs > 0)
      retired_ws_.push_back(ws_);  // a graph's kernels still hold its address
    else
      alloc.release(ws_);  // stream-ordered: queued users finish before the next writer
  }
  ws_ = nullptr;
  ws_bytes_ = 0;
  ws_ = alloc.allocate(bytes, op, "cuDNN workspace");
  ws_bytes_ = cuda::CachingAllocator::round_size(bytes);
  return ws_;
}

void DeviceContext::graph_destroyed() {
  if (live_graphs > 0) live_graphs--;
  if (live_graphs > 0) return;
  for (void* p : retired_ws_) alloc.release(p);
  retired_ws_.clear();
}

static DeviceContext& context_for(int index) {
  const Discovery& d = discover();
  if (d.count == 0) unavailable(index, d.gpu_reason);
  if (index < 0 || index >= d.count)
    unavailable(index, "no such device (" + std::to_string(d.count) + " CUDA device" + (d.count == 1 ? "" : "s") +
                           " visible: cuda:0" + (d.count > 1 ? "..cuda:" + std::to_string(d.count - 1) : "") + ")");
  const dnn::LoadResult& lr = dnn::load();
  if (!lr.ok) unavailable(index, lr.error);
  std::lock_guard<std::mutex> lock(g_ctx_mu);
  auto& v = contexts();
  if (v.size() < static_cast<size_t>(d.count)) v.resize(d.count, nullptr);
  if (!v[index]) v[index] = new DeviceContext(index);  // leaked on purpose (see context.h)
  return *v[index];
}

Backend& cuda_backend(int index) { return context_for(index).backend; }

CudaInfo cuda_info() {
  CudaInfo info;
  cudaRuntimeGetVersion(&info.runtime_version);
  cudaDriverGetVersion(&info.driver_version);
  cudaGetLastError();
  const Discovery& d = discover();
  info.device_count = d.count;
  for (int i = 0; i < d.count; i++) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) {
      cudaGetLastError();
      continue;
    }
    CudaDeviceInfo di;
    di.index = i;
    di.name = prop.name;
    di.major = prop.major;
    di.minor = prop.minor;
    di.total_memory = prop.totalGlobalMem;
    info.devices.push_back(di);
  }
  const dnn::LoadResult& lr = dnn::load();
  info.cudnn_version = lr.version;
  info.cudnn_path = lr.path;
  info.searched = lr.searched;
  if (d.count == 0) {
    info.reason = d.gpu_reason;
    if (!lr.ok) info.reason += "; and " + lr.error;
  } else if (!lr.ok) {
    info.reason = lr.error;
  }
  info.available = info.reason.empty();
  return info;
}

CudaMemoryStats cuda_memory_stats(int device) {
  DeviceContext& ctx = context_for(device);
  cuda::AllocatorStats s = ctx.alloc.stats();
  CudaMemoryStats m;
  m.allocated = s.allocated;
  m.reserved = s.reserved;
  m.peak_allocated = s.peak_allocated;
  m.peak_reserved = s.peak_reserved;
  m.cached_blocks = s.cached_blocks;
  m.malloc_calls = s.malloc_calls;
  m.cache_hits = s.cache_hits;
  m.oom_retries = s.oom_retries;
  m.workspace = ctx.workspace_bytes();
  return m;
}

void cuda_empty_cache() {
  std::lock_guard<std::mutex> lock(g_ctx_mu);
  for (DeviceContext* c : contexts())
    if (c) {
      cuda::throw_if_capturing(*c, "cudaEmptyCache", cuda::HostCall::EmptyCache);
      cudaStreamSynchronize(c->stream);
      c->alloc.empty_cache();
    }
}

// ---------------------------------------------------------------- memory and copies

CudaBackend::CudaBackend(DeviceContext* ctx) : ctx_(ctx) {}
Device CudaBackend::device() const { return Device{DeviceType::CUDA, ctx_->index}; }

Tensor CudaBackend::empty(const Shape& shape, DType dtype, Layout layout) {
  cuda::DeviceGuard g(ctx_->index);
  return cuda::new_tensor(*ctx_, shape, dtype, layout, "empty");
}

void CudaBackend::copy_(const Tensor& dst, const Tensor& src) {
  cuda::DeviceGuard g(ctx_->index);
  CR_CUDA_CHECK(cudaMemcpyAsync(dst.raw(), src.raw(), dst.nbytes(), cudaMemcpyDeviceToDevice, ctx_->stream), "copy",
                "dst " + dst.describe() + ", src " + src.describe());
}

void CudaBackend::synchronize() {
  cuda::DeviceGuard g(ctx_->index);
  cuda::throw_if_capturing(*ctx_, "synchronize", cuda::HostCall::Synchronize);
  CR_CUDA_CHECK(cudaStreamSynchronize(ctx_->stream), "synchronize", "cuda:" + std::to_string(ctx_->index));
}

}  // namespace cr
