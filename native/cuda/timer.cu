// CUDA event timing: the GPU time between two points of a device's stream, as the benchmark
// protocol asks (host clocks around a synchronisation also count the launch latency of the
// first step and the wake-up of the last).
#include <cuda_runtime.h>

#include <memory>
#include <string>

#include "../core/errors.h"
#include "common.h"
#include "context.h"
#include "cuda_backend.h"

namespace cr {

struct EventTimer {
  DeviceContext* ctx = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr;
};

namespace {

void destroy_events(EventTimer& t) {
  cuda::DeviceGuard g(t.ctx->index);
  if (t.start) cudaEventDestroy(t.start);
  if (t.stop) cudaEventDestroy(t.stop);
  cudaGetLastError();
  t.start = t.stop = nullptr;
}

}  // namespace

EventTimer* event_timer_start(int device) {
  const char* op = "eventTimerStart";
  DeviceContext& ctx = static_cast<CudaBackend&>(cuda_backend(device)).ctx();
  // Inside a capture the events would be recorded into the graph, not timed now.
  cuda::throw_if_capturing(ctx, op, cuda::HostCall::TimerStart);
  auto t = std::make_unique<EventTimer>();
  t->ctx = &ctx;
  cuda::DeviceGuard g(device);
  cudaError_t st = cudaEventCreate(&t->start);
  if (st == cudaSuccess) st = cudaEventCreate(&t->stop);
  if (st == cudaSuccess) st = cudaEventRecord(t->start, ctx.stream);
  if (st != cudaSuccess) {
    destroy_events(*t);
    CR_CUDA_CHECK(st, op, "cuda:" + std::to_string(device));
  }
  return t.release();
}

double event_timer_stop(EventTimer* t) {
  const char* op = "eventTimerStop";
  cuda::throw_if_capturing(*t->ctx, op, cuda::HostCall::TimerStop);
  cuda::DeviceGuard g(t->ctx->index);
  float ms = 0.f;
  cudaError_t st = cudaEventRecord(t->stop, t->ctx->stream);
  if (st == cudaSuccess) st = cudaEventSynchronize(t->stop);
  if (st == cudaSuccess) st = cudaEventElapsedTime(&ms, t->start, t->stop);
  CR_CUDA_CHECK(st, op, "cuda:" + std::to_string(t->ctx->index));
  return static_cast<double>(ms);
}

void event_timer_free(EventTimer* t) noexcept {
  if (!t) return;
  destroy_events(*t);
  delete t;
}

}  // namespace cr
