// Entry points of the CUDA backend. Defined by the .cu files when CMake finds nvcc, else by
// placeholders.cpp (each raises "unavailable: <why>"); plain C++ (no CUDA headers), so the
// bindings include it from g++ in both builds.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "../core/backend.h"

namespace cr {

// The backend for cuda:<index>; throws OpError (ERR_CUDA_UNAVAILABLE) naming the reason when
// there is no usable GPU, driver or cuDNN.
Backend& cuda_backend(int index);

struct CudaDeviceInfo {
  int index = 0;
  std::string name;
  int major = 0, minor = 0;
  uint64_t total_memory = 0;
};

struct CudaInfo {
  bool available = false;
  std::string reason;  // empty when available
  int device_count = 0;
  std::vector<CudaDeviceInfo> devices;
  int driver_version = 0, runtime_version = 0;  // e.g. 13000
  uint64_t cudnn_version = 0;                   // e.g. 91400; 0 when not loaded
  std::string cudnn_path;
  std::vector<std::string> searched;  // where cuDNN was looked for, with the outcome
};

// Never throws; loads cuDNN on first call to report on it.
CudaInfo cuda_info();

struct CudaMemoryStats {
  uint64_t allocated = 0;  // bytes in blocks handed to tensors (and workspaces)
  uint64_t reserved = 0;   // bytes obtained from cudaMalloc, cached blocks included
  uint64_t peak_allocated = 0;
  uint64_t peak_reserved = 0;
  uint64_t cached_blocks = 0;  // free blocks waiting for reuse
  uint64_t malloc_calls = 0;   // cudaMalloc calls so far
  uint64_t cache_hits = 0;     // allocations served from the cache
  uint64_t oom_retries = 0;    // times the cache was freed to satisfy an allocation
  uint64_t workspace = 0;      // bytes held by the cuDNN workspace
};

// Throws ERR_CUDA_UNAVAILABLE when the device cannot be used.
CudaMemoryStats cuda_memory_stats(int device);
// Frees the cached blocks of every device already in use; a no-op where none is.
void cuda_empty_cache();
// The convolution algorithm chosen for each shape seen so far, one line each.
std::vector<std::string> cuda_conv_algorithms();
// Calls of cuDNN's fused batch-norm kernels so far (BN + ReLU, BN + add + ReLU), and calls
// that qualified but fell back to the plain path (cuDNN refused the configuration, or no
// memory for the fused kernel's reserve or workspace).
struct FusedBnCounts {
  int64_t forward = 0, backward = 0, fallbacks = 0;
};
FusedBnCounts cuda_fused_bn_counts();

// ---- CUDA graph capture (graph.cu) ----
// Capture records every op queued on the device's stream between begin and end into one
// graph; replay re-runs it with the same pointers and scalars. Allocations made during a
// capture come from a private pool owned by the graph, so replays see stable addresses.
// Errors are OpError: ERR_CAPTURE_STATE (begin twice, end without begin),
// ERR_CAPTURE_INVALIDATED (something illegal happened during capture), ERR_CUDA.
struct CudaGraph;
void cuda_graph_begin(int device);
// Ends the capture and instantiates it. On failure the capture is ended, the graph discarded
// and its pool released before the error is thrown, so the stream stays usable.
CudaGraph* cuda_graph_end(int device);
// Ends an open capture and discards it (no-op when none is open); never throws.
void cuda_graph_abort(int device) noexcept;
void cuda_graph_replay(CudaGraph* g);
// Waits for pending replays, destroys the graph and releases its pool; true when done. Never
// throws; while a capture is open on that device it does nothing and returns false (the
// synchronisation would break the capture): call it again afterwards.
bool cuda_graph_destroy(CudaGraph* g) noexcept;
int cuda_graph_device(const CudaGraph* g);

// ---- CUDA event timing (timer.cu) ----
// start records an event on the device's stream now; stop records a second one, waits for
// it and returns the milliseconds between them (GPU time). Both refuse during a capture
// (ERR_CAPTURE_FORBIDDEN). free never throws.
struct EventTimer;
EventTimer* event_timer_start(int device);
double event_timer_stop(EventTimer* t);
void event_timer_free(EventTimer* t) noexcept;

struct DeviceContext;

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(DeviceContext* ctx);
  Device device() const override;
  DeviceContext& ctx() const { return *ctx_; }

  CR_BACKEND_OVERRIDES
 private:
  DeviceContext* ctx_;
};

}  // namespace cr
