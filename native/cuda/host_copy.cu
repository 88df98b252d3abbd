// Copies between host and device memory, and the page-locked staging buffers that let them
// return without waiting for the stream: uploads of batch indices and labels, and the
// asynchronous reads of losses and metrics (readAsync), so the host can prepare the next step
// while the device runs this one.
#include <cuda_runtime.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "../core/errors.h"
#include "common.h"
#include "context.h"
#include "cuda_backend.h"

namespace cr {

// Host-to-device copies up to this size return without waiting for the stream.
constexpr size_t kAsyncUploadBytes = size_t{4} << 20;

void CudaBackend::copy_from_host_(const Tensor& dst, const void* src) {
  cuda::DeviceGuard g(ctx_->index);
  const char* op = "copyFromHost";
  cuda::throw_if_capturing(*ctx_, op, cuda::HostCall::CopyFromHost);
  const size_t n = dst.nbytes();
  // The caller may free or reuse `src` as soon as we return. Small copies (batch indices,
  // augmentation parameters, labels) go through a pinned staging buffer, so the host does
  // not wait for the queued steps before it; the buffer is reused once the copy has run.
  if (n <= kAsyncUploadBytes) {
    void* pinned = ctx_->pinned_get(n, op);
    std::memcpy(pinned, src, n);
    cudaError_t st = cudaMemcpyAsync(dst.raw(), pinned, n, cudaMemcpyHostToDevice, ctx_->stream);
    ctx_->pinned_put_after_stream(pinned, n);
    CR_CUDA_CHECK(st, op, "dst " + dst.describe());
    return;
  }
  CR_CUDA_CHECK(cudaMemcpyAsync(dst.raw(), src, n, cudaMemcpyHostToDevice, ctx_->stream), op, "dst " + dst.describe());
  CR_CUDA_CHECK(cudaStreamSynchronize(ctx_->stream), op, "dst " + dst.describe());
}

void CudaBackend::copy_to_host(const Tensor& src, void* dst) {
  cuda::DeviceGuard g(ctx_->index);
  cuda::throw_if_capturing(*ctx_, "copyToHost", cuda::HostCall::CopyToHost);
  CR_CUDA_CHECK(cudaMemcpyAsync(dst, src.raw(), src.nbytes(), cudaMemcpyDeviceToHost, ctx_->stream), "copyToHost",
                "src " + src.describe());
  CR_CUDA_CHECK(cudaStreamSynchronize(ctx_->stream), "copyToHost", "src " + src.describe());
}

std::function<void()> CudaBackend::copy_to_host_async(const Tensor& src, void* dst) {
  cuda::DeviceGuard g(ctx_->index);
  const char* op = "copyToHostAsync";
  cuda::throw_if_capturing(*ctx_, op, cuda::HostCall::CopyToHostAsync);
  DeviceContext* ctx = ctx_;
  const size_t n = src.nbytes();
  void* pinned = ctx->pinned_get(n, op);
  cudaEvent_t done = nullptr;
  cudaError_t st = cudaMemcpyAsync(pinned, src.raw(), n, cudaMemcpyDeviceToHost, ctx->stream);
  // Blocking sync: the worker thread sleeps in cudaEventSynchronize instead of spinning.
  if (st == cudaSuccess) st = cudaEventCreateWithFlags(&done, cudaEventDisableTiming | cudaEventBlockingSync);
  if (st == cudaSuccess) st = cudaEventRecord(done, ctx->stream);
  if (st != cudaSuccess) {
    if (done) cudaEventDestroy(done);
    cudaGetLastError();
    // The copy may still be queued: the buffer goes back only after the stream has passed it.
    cudaStreamSynchronize(ctx->stream);
    ctx->pinned_put(pinned, n);
    CR_CUDA_CHECK(st, op, "src " + src.describe());
  }
  // The source block may be reused once the tensor is freed: later writers are queued behind
  // this copy on the same stream, so it reads the value as of now.
  std::string what = src.describe();
  return [ctx, pinned, n, done, dst, what] {
    cuda::DeviceGuard guard(ctx->index);  // a worker thread: its current device is unknown
    cudaError_t e = cudaEventSynchronize(done);
    if (e == cudaSuccess) std::memcpy(dst, pinned, n);
    cudaEventDestroy(done);
    ctx->pinned_put(pinned, n);
    if (e != cudaSuccess) {
      cudaGetLastError();
      CR_CUDA_CHECK(e, "copyToHostAsync", "src " + what);
    }
  };
}

void DeviceContext::pinned_put_after_stream(void* p, size_t bytes) {
  cudaEvent_t done = nullptr;
  cuda::DeviceGuard g(index);
  if (cudaEventCreateWithFlags(&done, cudaEventDisableTiming) != cudaSuccess ||
      cudaEventRecord(done, stream) != cudaSuccess) {
    cudaGetLastError();
    if (done) cudaEventDestroy(done);
    cudaStreamSynchronize(stream);  // no event: wait here instead, then the buffer is free
    cudaGetLastError();
    pinned_put(p, bytes);
    return;
  }
  std::lock_guard<std::mutex> lock(pinned_mu_);
  pinned_in_flight_.push_back({done, p, bytes});
}

void* DeviceContext::pinned_get(size_t bytes, const char* op) {
  // Buffers pinned_put could not cache are freed here, on the JS thread outside a capture
  // (both callers refuse during one): cudaFreeHost synchronises the device implicitly, which
  // on a worker thread could invalidate a capture open on the JS thread.
  std::vector<void*> to_free;
  {
    std::lock_guard<std::mutex> lock(pinned_mu_);
    to_free.swap(pinned_to_free_);
  }
  for (void* p : to_free) cudaFreeHost(p);
  if (!to_free.empty()) cudaGetLastError();
  {
    // Staging buffers whose uploads have run are free again.
    std::vector<PinnedInFlight> done;
    {
      std::lock_guard<std::mutex> lock(pinned_mu_);
      for (auto it = pinned_in_flight_.begin(); it != pinned_in_flight_.end();) {
        cudaError_t q = cudaEventQuery(it->done);
        if (q == cudaErrorNotReady) {
          ++it;
          continue;
        }
        done.push_back(*it);
        it = pinned_in_flight_.erase(it);
      }
    }
    cudaGetLastError();
    for (const PinnedInFlight& f : done) {
      cudaEventDestroy(f.done);
      pinned_put(f.p, f.bytes);
    }
  }
  {
    std::lock_guard<std::mutex> lock(pinned_mu_);
    auto it = pinned_free_.lower_bound(bytes);
    if (it != pinned_free_.end() && it->first <= 2 * bytes + 4096) {
      void* p = it->second;
      pinned_cached_ -= it->first;
      pinned_free_.erase(it);
      return p;
    }
  }
  void* p = nullptr;
  cuda::DeviceGuard g(index);
  // Rounded to 4 KiB so that nearby sizes share buffers; the size is recomputed in put().
  CR_CUDA_CHECK(cudaMallocHost(&p, (bytes + 4095) / 4096 * 4096), op,
                std::to_string(bytes) + " B of pinned host memory");
  return p;
}

void DeviceContext::pinned_put(void* p, size_t bytes) {
  const size_t size = (bytes + 4095) / 4096 * 4096;
  {
    std::lock_guard<std::mutex> lock(pinned_mu_);
    // Bounded: scalars and small tensors are what training reads back every step.
    if (pinned_cached_ + size <= (size_t{64} << 20)) {
      pinned_free_.emplace(size, p);
      pinned_cached_ += size;
      return;
    }
    pinned_to_free_.push_back(p);  // freed by the next pinned_get (see there)
  }
}

}  // namespace cr
