// CUDA graph capture of a whole training step. Begin switches the device's stream to capture
// mode and routes the allocator to a new private pool; end instantiates the recorded graph,
// which then owns the pool until destroyed. See docs/cuda.md ("Captured training step").
//
// Capture mode: cudaStreamCaptureModeThreadLocal. Global would also forbid "unsafe" calls
// (cudaMalloc, synchronous copies) in *other* threads for the capture's duration, which
// would break unrelated libuv workers (readAsync of another device, file I/O staging);
// Relaxed would forbid nothing, so a stray cudaFree or implicit synchronisation from this
// thread would go unnoticed. ThreadLocal refuses them in the capturing thread only; the
// allocator's own cudaMalloc opts out for its one call (allocator.cu), and our explicit
// syncing ops refuse by name first (throw_if_capturing).
#include <cuda_runtime.h>

#include <string>

#include "../core/errors.h"
#include "common.h"
#include "context.h"
#include "cuda_backend.h"

namespace cr {

struct CudaGraph {
  DeviceContext* ctx;
  cudaGraphExec_t exec;
  cuda::PoolId pool;
};

namespace {

DeviceContext& ctx_of(int device) { return static_cast<CudaBackend&>(cuda_backend(device)).ctx(); }

std::string dev_name(const DeviceContext& ctx) { return "cuda:" + std::to_string(ctx.index); }

bool stream_capturing(const DeviceContext& ctx) {
  cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(ctx.stream, &st) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return st != cudaStreamCaptureStatusNone;
}

// Ends whatever capture is open on ctx's stream, drops the graph and the pool.
void discard_capture(DeviceContext& ctx) noexcept {
  cudaGraph_t graph = nullptr;
  if (stream_capturing(ctx)) cudaStreamEndCapture(ctx.stream, &graph);
  if (graph) cudaGraphDestroy(graph);
  cudaGetLastError();
  cuda::PoolId pool = ctx.capture_pool;
  ctx.capture_pool = cuda::kDefaultPool;
  if (pool != cuda::kDefaultPool) {
    ctx.alloc.pop_pool();
    ctx.alloc.release_pool(pool);  // cudaFree synchronises: queued users of its blocks finish first
  }
}

}  // namespace

namespace cuda {

bool capturing(const DeviceContext& ctx) { return stream_capturing(ctx); }

void throw_if_capturing(const DeviceContext& ctx, const char* op, HostCall call) {
  const char* why = capture_refusal(call);
  if (why && stream_capturing(ctx)) throw_capture_forbidden(ctx.index, op, why);
}

}  // namespace cuda

void cuda_graph_begin(int device) {
  DeviceContext& ctx = ctx_of(device);
  cuda::DeviceGuard g(ctx.index);
  if (ctx.capture_pool != cuda::kDefaultPool || stream_capturing(ctx))
    throw_runtime("graphCaptureBegin", "a capture is already open on " + dev_name(ctx) + "; end or abort it first",
                  "ERR_CAPTURE_STATE");
  // The capture's pool starts empty and cannot retry an allocation after freeing (cudaFree
  // would break the capture): give the warm-up's cached blocks back to the driver first,
  // so the captured step does not need its memory twice.
  // A fault of the step before (an illegal address, a failed kernel) surfaces here, named as
  // such, rather than later as a misleading "capture invalidated".
  cudaError_t sync = cudaStreamSynchronize(ctx.stream);
  if (sync != cudaSuccess)
    cuda::throw_cuda(sync, "graphCaptureBegin", "cudaStreamSynchronize (work queued before the capture failed)",
                     dev_name(ctx));
  ctx.alloc.empty_cache();
  cuda::PoolId pool = ctx.alloc.create_pool();
  ctx.alloc.push_pool(pool);
  cudaError_t st = cudaStreamBeginCapture(ctx.stream, cudaStreamCaptureModeThreadLocal);
  if (st != cudaSuccess) {
    ctx.alloc.pop_pool();
    ctx.alloc.release_pool(pool);
    cuda::throw_cuda(st, "graphCaptureBegin", "cudaStreamBeginCapture", dev_name(ctx));
  }
  ctx.capture_pool = pool;
}

CudaGraph* cuda_graph_end(int device) {
  DeviceContext& ctx = ctx_of(device);
  cuda::DeviceGuard g(ctx.index);
  if (ctx.capture_pool == cuda::kDefaultPool)
    throw_runtime("graphCaptureEnd", "no capture is open on " + dev_name(ctx) + " (call graphCaptureBegin first)",
                  "ERR_CAPTURE_STATE");
  cudaGraph_t graph = nullptr;
  cudaError_t st = cudaStreamEndCapture(ctx.stream, &graph);
  if (st != cudaSuccess || !graph) {
    if (graph) cudaGraphDestroy(graph);
    cudaGetLastError();
    discard_capture(ctx);
    throw_runtime("graphCaptureEnd",
                  std::string("the capture on ") + dev_name(ctx) + " was invalidated (" + cudaGetErrorName(st) +
                      "): an op during the capture synchronised the stream or made a call a capture forbids, "
                      "e.g. a host read, or a cuDNN algorithm search for a convolution shape not seen in a "
                      "warm-up step; the capture was discarded",
                  "ERR_CAPTURE_INVALIDATED");
  }
  // The stream has left capture mode; the pool stays with the graph.
  cuda::PoolId pool = ctx.capture_pool;
  ctx.capture_pool = cuda::kDefaultPool;
  ctx.alloc.pop_pool();
  cudaGraphExec_t exec = nullptr;
  st = cudaGraphInstantiateWithFlags(&exec, graph, 0);
  cudaGraphDestroy(graph);
  if (st == cudaSuccess) st = cudaGraphUpload(exec, ctx.stream);  // first replay pays no upload
  if (st != cudaSuccess) {
    if (exec) cudaGraphExecDestroy(exec);
    cudaGetLastError();
    ctx.alloc.release_pool(pool);
    cuda::throw_cuda(st, "graphCaptureEnd", "cudaGraphInstantiateWithFlags", dev_name(ctx));
  }
  ctx.live_graphs++;
  return new CudaGraph{&ctx, exec, pool};
}

void cuda_graph_abort(int device) noexcept {
  try {
    DeviceContext& ctx = ctx_of(device);
    cuda::DeviceGuard g(ctx.index);
    if (ctx.capture_pool != cuda::kDefaultPool || stream_capturing(ctx)) discard_capture(ctx);
  } catch (...) {
    // No usable device: nothing can be capturing on it.
  }
}

void cuda_graph_replay(CudaGraph* gr) {
  DeviceContext& ctx = *gr->ctx;
  cuda::DeviceGuard g(ctx.index);
  cuda::throw_if_capturing(ctx, "graphReplay", cuda::HostCall::GraphReplay);
  CR_CUDA_CHECK(cudaGraphLaunch(gr->exec, ctx.stream), "graphReplay", dev_name(ctx));
}

bool cuda_graph_destroy(CudaGraph* gr) noexcept {
  if (!gr) return true;
  DeviceContext& ctx = *gr->ctx;
  cuda::DeviceGuard g(ctx.index);
  // Synchronising (here and in cudaFree) would invalidate an open capture: not now.
  if (stream_capturing(ctx)) return false;
  cudaStreamSynchronize(ctx.stream);  // a replay may still be running
  cudaGraphExecDestroy(gr->exec);
  cudaGetLastError();
  ctx.alloc.release_pool(gr->pool);
  ctx.graph_destroyed();
  delete gr;
  return true;
}

int cuda_graph_device(const CudaGraph* g) { return g->ctx->index; }

}  // namespace cr
