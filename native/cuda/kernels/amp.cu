// Dynamic loss scaling with no host round trip (the CPU twin is cpu/amp.cpp): the
// found-inf flag and the scale live in device memory, so a captured fp16 step can unscale,
// skip an overflowed update (sgd.cu reads the flag) and adjust the scale inside the graph.
#include "../context.h"
#include "common.cuh"
#include "multi_tensor.cuh"

namespace cr {
namespace cuda {
namespace {

// Every thread that meets an inf/NaN stores 1 to the flag: racing stores of one value.
__global__ void unscale_kernel(TensorBatch<1> b, const float* scale, float* found_inf) {
  int t = batch_tensor_of(b, blockIdx.x);
  int64_t chunk = blockIdx.x - b.block_start[t];
  float* g = static_cast<float*>(b.ptr[0][t]);
  const float inv = __frcp_rn(scale[0]);  // the CPU's 1.f / s, correctly rounded
  int64_t begin = chunk * kChunk, end = min(b.n[t], begin + kChunk);
  bool bad = false;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    float v = g[i];
    bad = bad || !isfinite(v);
    g[i] = __fmul_rn(v, inv);
  }
  if (bad) *found_inf = 1.f;
}

__global__ void update_scale_kernel(float* scale, float* state, LossScaleParams p) {
  if (state[0] != 0.f) {
    scale[0] = __fmul_rn(scale[0], p.backoff_factor);
    state[1] = 0.f;
    state[2] += 1.f;
    return;
  }
  float good = state[1] + 1.f;
  if (good >= static_cast<float>(p.growth_interval)) {
    float grown = __fmul_rn(scale[0], p.growth_factor);
    if (isfinite(grown)) scale[0] = grown;
    good = 0.f;
  }
  state[1] = good;
}

}  // namespace
}  // namespace cuda

void CudaBackend::amp_unscale_(const std::vector<Tensor>& grads, const Tensor& scale, const Tensor& state) {
  cuda::DeviceGuard g(ctx_->index);
  const char* op = "ampUnscale";
  // A memset node, not a host write: the clear is part of the step when it is captured.
  CR_CUDA_CHECK(cudaMemsetAsync(state.raw(), 0, sizeof(float), ctx_->stream), op, state.describe());
  std::vector<int64_t> sizes;
  for (const Tensor& t : grads) sizes.push_back(t.numel());
  cuda::for_each_batch<1>(
      static_cast<int>(grads.size()), sizes,
      [&](cuda::TensorBatch<1>& b, int slot, int i) { b.ptr[0][slot] = grads[i].raw(); },
      [&](cuda::TensorBatch<1>& b, int blocks) {
        cuda::unscale_kernel<<<blocks, 256, 0, ctx_->stream>>>(b, scale.data<float>(), state.data<float>());
        CR_LAUNCH_CHECK(op, std::to_string(grads.size()) + " gradients");
      });
}

void CudaBackend::amp_update_scale_(const Tensor& scale, const Tensor& state, const LossScaleParams& p) {
  cuda::DeviceGuard g(ctx_->index);
  cuda::update_scale_kernel<<<1, 1, 0, ctx_->stream>>>(scale.data<float>(), state.data<float>(), p);
  CR_LAUNCH_CHECK("ampUpdateScale", scale.describe());
}

}  // namespace cr
