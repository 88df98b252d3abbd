// Per-GPU state shared by every op of the CUDA backend: the stream all work is queued on,
// the cuDNN handle bound to it, the caching allocator and the grow-only cuDNN workspace.
#pragma once
#include <cuda_runtime.h>

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "../core/tensor.h"
#include "allocator.h"
#include "common.h"
#include "cuda_backend.h"
#include "cudnn_api.h"
#include "policy/capture.h"

namespace cr {

struct DeviceContext {
  explicit DeviceContext(int idx);  // throws OpError ERR_CUDA_UNAVAILABLE
  ~DeviceContext() = delete;        // contexts live as long as the process (tensors may outlive main)

  int index;
  cudaStream_t stream = nullptr;
  dnn::cudnnHandle_t handle = nullptr;
  cuda::CachingAllocator alloc;
  int sm_count = 1;
  CudaBackend backend;

  // A scratch buffer of at least `bytes` for cuDNN; grows, never shrinks (a smaller request
  // reuses it). Valid until the next call to workspace(); all users are on `stream`.
  // Refuses to grow during a graph capture (growing may free the old block, which the
  // capture may already reference). While graphs are alive, a replaced workspace is kept
  // (not recycled) until the last graph is destroyed, since their kernels hold its address.
  void* workspace(size_t bytes, const char* op);
  size_t workspace_bytes() const { return ws_bytes_; }

  // Page-locked host buffers for asynchronous reads (copy_to_host_async): a device-to-host
  // copy into pageable memory would block the caller until the stream drains. Reused by
  // size; thread-safe (the buffers come back from worker threads).
  void* pinned_get(size_t bytes, const char* op);
  void pinned_put(void* p, size_t bytes);
  // Back to the cache once the work queued on `stream` so far has run (an upload from it).
  void pinned_put_after_stream(void* p, size_t bytes);

  // ---- CUDA graph capture (graph.cu); touched only from the JS thread ----
  cuda::PoolId capture_pool = cuda::kDefaultPool;  // the open capture's private pool, 0 when none
  int live_graphs = 0;                             // instantiated graphs not yet destroyed
  void graph_destroyed();                          // live_graphs--, frees retired workspaces at 0

 private:
  void* ws_ = nullptr;
  size_t ws_bytes_ = 0;
  std::vector<void*> retired_ws_;
  struct PinnedInFlight {
    cudaEvent_t done;
    void* p;
    size_t bytes;
  };
  std::mutex pinned_mu_;
  std::multimap<size_t, void*> pinned_free_;
  size_t pinned_cached_ = 0;
  std::vector<PinnedInFlight> pinned_in_flight_;
  std::vector<void*> pinned_to_free_;  // over the cache's bound; freed on the JS thread
};

namespace cuda {

// A new tensor on ctx's device from the caching allocator; its Storage gives the block back.
Tensor new_tensor(DeviceContext& ctx, const Shape& shape, DType dtype, Layout layout, const char* op);
// Blocks for a grid-stride loop over n elements: enough to fill the GPU, never more than needed.
int grid_for(const DeviceContext& ctx, int64_t n, int threads = 256);
// Throws OpError ERR_CAPTURE_FORBIDDEN naming `op` when ctx's stream is being captured into a
// CUDA graph: for ops that synchronise the stream or copy to the host, which would otherwise
// invalidate the capture (or, in relaxed mode, silently record the wrong thing). graph.cu.
void throw_if_capturing(const DeviceContext& ctx, const char* op, HostCall call);
// Whether a capture is open on ctx's stream (graph.cu).
bool capturing(const DeviceContext& ctx);

// Temporary device memory for one op, back to the cache when the scope ends (safe: later
// users are queued behind this op on the same stream).
class Scratch {
 public:
  Scratch(DeviceContext& ctx, size_t bytes, const char* op) : ctx_(ctx), p_(ctx.alloc.allocate(bytes, op, "scratch")) {}
  ~Scratch() { ctx_.alloc.release(p_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <typename T>
  T* as() const {
    return static_cast<T*>(p_);
  }

 private:
  DeviceContext& ctx_;
  void* p_;
};

}  // namespace cuda
}  // namespace cr
