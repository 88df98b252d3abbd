// SGD with PyTorch's torch.optim.SGD semantics (foreach form), in place over every
// parameter in one call:
//   d = grad + weight_decay * param
//   buf = d                                     on the first step
//   buf = momentum * buf + (1 - dampening) * d  afterwards
//   d = nesterov ? d + momentum * buf : buf     (when momentum != 0)
//   param -= lr * d
// All tensors are fp32; work is cut into fixed-size pieces across all tensors so a model of
// many small parameters still spreads over the threads.
#include <algorithm>
#include <vector>

#include "cpu_backend.h"
#include "parallel.h"

namespace cr {

void CpuBackend::sgd_update_(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                             const std::vector<Tensor>& bufs, const SgdParams& p) {
  if (p.skip_flag && p.skip_flag->data<float>()[0] != 0.f) return;
  const float lr = p.lr_device ? p.lr_device->data<float>()[0] : p.lr;
  const bool use_momentum = p.momentum != 0.f;
  parallel_over_elements(params, [&](size_t t, int64_t begin, int64_t end) {
    float* w = params[t].data<float>();
    const float* g = grads[t].data<float>();
    float* buf = use_momentum ? bufs[t].data<float>() : nullptr;
    for (int64_t i = begin; i < end; i++) {
      float d = g[i];
      if (p.weight_decay != 0.f) d += p.weight_decay * w[i];
      if (use_momentum) {
        buf[i] = p.first_step ? d : p.momentum * buf[i] + (1.f - p.dampening) * d;
        d = p.nesterov ? d + p.momentum * buf[i] : buf[i];
      }
      w[i] -= lr * d;
    }
  });
}

}  // namespace cr
