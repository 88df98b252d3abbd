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
    // Hyperparameters in the piece's locals: read through `p` or the closure, the compiler
    // must assume the stores to the tensors may change them, and does not vectorise the loop.
    const float rate = lr, wd = p.weight_decay, mom = p.momentum, keep = 1.f - p.dampening;
    const bool first = p.first_step, nesterov = p.nesterov;
    float* __restrict w = params[t].data<float>();
    const float* __restrict g = grads[t].data<float>();
    float* __restrict buf = use_momentum ? bufs[t].data<float>() : nullptr;
    if (!use_momentum) {
      for (int64_t i = begin; i < end; i++) w[i] -= rate * (wd != 0.f ? g[i] + wd * w[i] : g[i]);
      return;
    }
    for (int64_t i = begin; i < end; i++) {
      const float d = wd != 0.f ? g[i] + wd * w[i] : g[i];  // the loop is unswitched on wd
      const float b = first ? d : mom * buf[i] + keep * d;
      buf[i] = b;
      w[i] -= rate * (nesterov ? d + mom * b : b);
    }
  });
}

}  // namespace cr
