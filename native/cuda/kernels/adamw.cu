// AdamW (torch.optim.AdamW) over every parameter of a group: up to kMaxTensors tensors per
// launch pair. The rule and its rounding are the CPU backend's (native/cpu/adamw.cpp): per
// parameter the step count is incremented, the bias corrections are computed in double from
// it, and each element takes fp32 operations in the same order (_rn intrinsics stop nvcc
// contracting them into fmas), so both backends agree bit for bit up to the double pow.
// The step counts live on the device so that a skipped (overflowed) step or a CUDA-graph
// replay counts exactly as an eager step would, with no host round trip.
#include "../context.h"
#include "common.cuh"
#include "multi_tensor.cuh"

namespace cr {
namespace cuda {
namespace {

// Pointers per tensor: param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq (or null), step.
constexpr int kAdamwPtrs = 6;

struct AdamwScalars {
  float lr;
  double beta1, beta2, eps, weight_decay;
  bool amsgrad;
};

// One thread per tensor: step += 1 unless the update is skipped. Runs before the update
// kernel, which reads the new count.
__global__ void adamw_count_steps(TensorBatch<kAdamwPtrs> b, const float* skip) {
  if (skip && *skip != 0.f) return;
  int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t < b.count) {
    float* s = static_cast<float*>(b.ptr[5][t]);
    *s = __fadd_rn(*s, 1.f);
  }
}

__global__ void adamw_kernel(TensorBatch<kAdamwPtrs> b, AdamwScalars s, const float* lr_device, const float* skip) {
  if (skip && *skip != 0.f) return;
  const float lr = lr_device ? *lr_device : s.lr;
  int t = batch_tensor_of(b, blockIdx.x);
  int64_t chunk = blockIdx.x - b.block_start[t];
  float* w = static_cast<float*>(b.ptr[0][t]);
  const float* gr = static_cast<const float*>(b.ptr[1][t]);
  float* m = static_cast<float*>(b.ptr[2][t]);
  float* v = static_cast<float*>(b.ptr[3][t]);
  float* vmax = static_cast<float*>(b.ptr[4][t]);
  const float step = *static_cast<const float*>(b.ptr[5][t]);

  // The per-tensor constants, once per block.
  __shared__ float step_size, bias_correction2_sqrt;
  if (threadIdx.x == 0) {
    double bias_correction1 = 1.0 - pow(s.beta1, static_cast<double>(step));
    double bias_correction2 = 1.0 - pow(s.beta2, static_cast<double>(step));
    step_size = static_cast<float>(static_cast<double>(lr) / bias_correction1);
    bias_correction2_sqrt = static_cast<float>(sqrt(bias_correction2));
  }
  __syncthreads();
  const float decay = static_cast<float>(1.0 - static_cast<double>(lr) * s.weight_decay);
  const float beta1 = static_cast<float>(s.beta1), one_minus_beta1 = static_cast<float>(1.0 - s.beta1);
  const float beta2 = static_cast<float>(s.beta2), one_minus_beta2 = static_cast<float>(1.0 - s.beta2);
  const float eps = static_cast<float>(s.eps);

  int64_t begin = chunk * kChunk, end = min(b.n[t], begin + kChunk);
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    const float g = gr[i];
    const float wi = __fmul_rn(w[i], decay);
    const float mi = __fadd_rn(__fmul_rn(m[i], beta1), __fmul_rn(one_minus_beta1, g));
    const float vi = __fadd_rn(__fmul_rn(v[i], beta2), __fmul_rn(__fmul_rn(one_minus_beta2, g), g));
    m[i] = mi;
    v[i] = vi;
    float vv = vi;
    if (s.amsgrad) vv = vmax[i] = vi > vmax[i] || vi != vi ? vi : vmax[i];  // NaN propagates, as on the CPU
    const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vv), bias_correction2_sqrt), eps);
    w[i] = __fsub_rn(wi, __fmul_rn(step_size, __fdiv_rn(mi, denom)));
  }
}

}  // namespace
}  // namespace cuda

void CudaBackend::adamw_update_(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                                const std::vector<Tensor>& exp_avgs, const std::vector<Tensor>& exp_avg_sqs,
                                const std::vector<Tensor>& max_exp_avg_sqs, const std::vector<Tensor>& steps,
                                const AdamwParams& p) {
  cuda::DeviceGuard g(ctx_->index);
  const char* op = "adamwUpdate";
  if (p.amsgrad && max_exp_avg_sqs.size() != params.size())
    throw_range(op, "maxExpAvgSqs", "must hold one buffer per parameter with amsgrad");
  cuda::AdamwScalars s{p.lr, p.beta1, p.beta2, p.eps, p.weight_decay, p.amsgrad};
  const float* lr_device = p.lr_device ? p.lr_device->data<float>() : nullptr;
  const float* skip = p.skip_flag ? p.skip_flag->data<float>() : nullptr;
  std::vector<int64_t> sizes;
  for (const Tensor& t : params) sizes.push_back(t.numel());
  cuda::for_each_batch<cuda::kAdamwPtrs>(
      static_cast<int>(params.size()), sizes,
      [&](cuda::TensorBatch<cuda::kAdamwPtrs>& b, int slot, int i) {
        b.ptr[0][slot] = params[i].raw();
        b.ptr[1][slot] = grads[i].raw();
        b.ptr[2][slot] = exp_avgs[i].raw();
        b.ptr[3][slot] = exp_avg_sqs[i].raw();
        b.ptr[4][slot] = p.amsgrad ? max_exp_avg_sqs[i].raw() : nullptr;
        b.ptr[5][slot] = steps[i].raw();
      },
      [&](cuda::TensorBatch<cuda::kAdamwPtrs>& b, int blocks) {
        cuda::adamw_count_steps<<<1, cuda::kMaxTensors, 0, ctx_->stream>>>(b, skip);
        cuda::adamw_kernel<<<blocks, 256, 0, ctx_->stream>>>(b, s, lr_device, skip);
        CR_LAUNCH_CHECK(op, std::to_string(params.size()) + " parameters");
      });
}

}  // namespace cr
