// AdamW with PyTorch's torch.optim.AdamW semantics (decoupled weight decay, bias correction,
// eps added after the square root, optional AMSGrad), in place over every parameter of a
// group in one call. Per parameter, with s its step count after this update:
//   s += 1
//   w *= 1 - lr * weight_decay
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g * g
//   vmax = max(vmax, v)                                    (AMSGrad; then v := vmax below)
//   w -= lr / (1 - beta1^s) * m / (sqrt(v) / sqrt(1 - beta2^s) + eps)
// The bias corrections are computed in double from s once per parameter, as PyTorch does in
// Python; everything per element is fp32, one rounding per operation, in the order written
// here, which the CUDA kernel (kernels/adamw.cu) follows too.
#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu_backend.h"
#include "parallel.h"

namespace cr {

namespace {

// fp32 constants shared by every element of the call.
struct AdamwScalars {
  float decay, beta1, one_minus_beta1, beta2, one_minus_beta2, eps;
};

AdamwScalars adamw_common_scalars(const AdamwParams& p, float lr) {
  return {static_cast<float>(1.0 - static_cast<double>(lr) * p.weight_decay),
          static_cast<float>(p.beta1),
          static_cast<float>(1.0 - p.beta1),
          static_cast<float>(p.beta2),
          static_cast<float>(1.0 - p.beta2),
          static_cast<float>(p.eps)};
}

// The bias corrections of one parameter at its step count s (after the increment).
struct AdamwStepScalars {
  float step_size, bias_correction2_sqrt;
};

AdamwStepScalars adamw_step_scalars(const AdamwParams& p, float lr, float s) {
  const double bias_correction1 = 1.0 - std::pow(p.beta1, static_cast<double>(s));
  const double bias_correction2 = 1.0 - std::pow(p.beta2, static_cast<double>(s));
  return {static_cast<float>(static_cast<double>(lr) / bias_correction1),
          static_cast<float>(std::sqrt(bias_correction2))};
}

}  // namespace

void CpuBackend::adamw_update_(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                               const std::vector<Tensor>& exp_avgs, const std::vector<Tensor>& exp_avg_sqs,
                               const std::vector<Tensor>& max_exp_avg_sqs, const std::vector<Tensor>& steps,
                               const AdamwParams& p) {
  if (p.skip_flag && p.skip_flag->data<float>()[0] != 0.f) return;
  const float lr = p.lr_device ? p.lr_device->data<float>()[0] : p.lr;
  const AdamwScalars common = adamw_common_scalars(p, lr);
  std::vector<AdamwStepScalars> per_tensor(params.size());
  for (size_t t = 0; t < params.size(); t++) {
    float& s = steps[t].data<float>()[0];
    s += 1.f;
    per_tensor[t] = adamw_step_scalars(p, lr, s);
  }

  parallel_over_elements(params, [&](size_t t, int64_t begin, int64_t end) {
    const AdamwStepScalars& st = per_tensor[t];
    float* w = params[t].data<float>();
    const float* g = grads[t].data<float>();
    float* m = exp_avgs[t].data<float>();
    float* v = exp_avg_sqs[t].data<float>();
    float* vmax = p.amsgrad ? max_exp_avg_sqs[t].data<float>() : nullptr;
    for (int64_t i = begin; i < end; i++) {
      const float gi = g[i];
      const float wi = w[i] * common.decay;
      const float mi = m[i] * common.beta1 + common.one_minus_beta1 * gi;
      const float vi = v[i] * common.beta2 + common.one_minus_beta2 * gi * gi;
      m[i] = mi;
      v[i] = vi;
      float vv = vi;
      if (vmax) vv = vmax[i] = vi > vmax[i] || vi != vi ? vi : vmax[i];  // NaN propagates, as torch.maximum
      const float denom = std::sqrt(vv) / st.bias_correction2_sqrt + common.eps;
      w[i] = wi - st.step_size * (mi / denom);
    }
  });
}

}  // namespace cr
