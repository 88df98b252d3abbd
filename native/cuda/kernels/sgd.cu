// SGD with momentum, dampening, nesterov and weight decay in one pass over every parameter:
// up to kMaxTensors tensors per launch (ResNet-56's 170 parameters take 6 launches).
// PyTorch's update rule (torch.optim.SGD), all fp32:
//   g = grad + wd * p
//   buf = first_step ? g : momentum * buf + (1 - dampening) * g      (when momentum != 0)
//   g = nesterov ? g + momentum * buf : buf
//   p -= lr * g
#include "../context.h"
#include "common.cuh"
#include "multi_tensor.cuh"

namespace cr {
namespace cuda {
namespace {

struct SgdScalars {
  float lr, momentum, dampening, weight_decay;
  bool nesterov, first_step, use_momentum;
};

// lr_device / skip: device scalars (may be null) that override s.lr and skip the update.
__global__ void sgd_kernel(TensorBatch<3> b, SgdScalars s, const float* lr_device, const float* skip) {
  if (skip && *skip != 0.f) return;
  const float lr = lr_device ? *lr_device : s.lr;
  int t = batch_tensor_of(b, blockIdx.x);
  int64_t chunk = blockIdx.x - b.block_start[t];
  float* p = static_cast<float*>(b.ptr[0][t]);
  const float* gr = static_cast<const float*>(b.ptr[1][t]);
  float* buf = static_cast<float*>(b.ptr[2][t]);
  int64_t begin = chunk * kChunk, end = min(b.n[t], begin + kChunk);
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    // Separately rounded products and sums (_rn intrinsics stop nvcc contracting them into
    // fmas), so the update is bit-identical to the CPU backend's.
    float pv = p[i];
    float g = gr[i];
    if (s.weight_decay != 0.f) g = __fadd_rn(g, __fmul_rn(s.weight_decay, pv));
    if (s.use_momentum) {
      float m = s.first_step ? g : __fadd_rn(__fmul_rn(s.momentum, buf[i]), __fmul_rn(1.f - s.dampening, g));
      buf[i] = m;
      g = s.nesterov ? __fadd_rn(g, __fmul_rn(s.momentum, m)) : m;
    }
    p[i] = __fsub_rn(pv, __fmul_rn(lr, g));
  }
}

}  // namespace
}  // namespace cuda

void CudaBackend::sgd_update_(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                              const std::vector<Tensor>& bufs, const SgdParams& p) {
  cuda::DeviceGuard g(ctx_->index);
  cuda::SgdScalars s{p.lr, p.momentum, p.dampening, p.weight_decay, p.nesterov, p.first_step, p.momentum != 0.f};
  if (s.use_momentum && bufs.size() != params.size())
    throw_range("sgdUpdate", "bufs", "must hold one buffer per parameter when momentum != 0");
  std::vector<int64_t> sizes;
  for (const Tensor& t : params) sizes.push_back(t.numel());
  cuda::for_each_batch<3>(
      static_cast<int>(params.size()), sizes,
      [&](cuda::TensorBatch<3>& b, int slot, int i) {
        b.ptr[0][slot] = params[i].raw();
        b.ptr[1][slot] = grads[i].raw();
        b.ptr[2][slot] = s.use_momentum ? bufs[i].raw() : nullptr;
      },
      [&](cuda::TensorBatch<3>& b, int blocks) {
        cuda::sgd_kernel<<<blocks, 256, 0, ctx_->stream>>>(b, s, p.lr_device ? p.lr_device->data<float>() : nullptr,
                                                           p.skip_flag ? p.skip_flag->data<float>() : nullptr);
        CR_LAUNCH_CHECK("sgdUpdate", std::to_string(params.size()) + " parameters");
      });
}

}  // namespace cr
