// Spatial batch normalization (statistics per channel over N, H, W), cuDNN's
// CUDNN_BATCHNORM_SPATIAL semantics with the optional fused residual add and ReLU of
// cudnnBatchNormalizationForwardTrainingEx. Inputs of any float dtype and layout are first
// widened to an fp32 NCHW copy, so every kernel below walks one contiguous plane per
// (n, c); arithmetic is in double so the reference is accurate to the output's rounding.
#include <cmath>
#include <vector>

#include "cpu_backend.h"
#include "parallel.h"

namespace cr {

namespace {

struct Dims {
  int64_t N, C, HW;
  explicit Dims(const Tensor& x) : N(x.shape[0]), C(x.shape[1]), HW(x.shape[2] * x.shape[3]) {}
  int64_t at(int64_t n, int64_t c) const { return (n * C + c) * HW; }  // plane start
};

// y = act(scale[c] * x + shift[c] + residual), written back in x's dtype and layout.
Tensor affine_act(const Tensor& x, const std::vector<float>& xs, const std::vector<double>& scale,
                  const std::vector<double>& shift, const Tensor* residual, bool relu) {
  Dims d(x);
  std::vector<float> rs;
  if (residual) rs = to_f32_nchw(*residual);
  std::vector<float> ys(xs.size());
  parallel_for(d.N * d.C, 16, [&](int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; nc++) {
      int64_t c = nc % d.C, base = nc * d.HW;
      for (int64_t i = base; i < base + d.HW; i++) {
        double v = scale[c] * xs[i] + shift[c];
        if (residual) v += rs[i];
        if (relu && !(v > 0)) v = 0;  // as relu_forward: v > 0 ? v : 0
        ys[i] = static_cast<float>(v);
      }
    }
  });
  return from_f32_nchw(ys, x.shape, x.dtype, x.layout);
}

}  // namespace

BatchNormForward CpuBackend::batchnorm_forward_training(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                                        const Tensor& running_mean, const Tensor& running_var,
                                                        double momentum, double eps, const Tensor* residual,
                                                        bool relu) {
  Dims d(x);
  std::vector<float> xs = to_f32_nchw(x);
  const double M = static_cast<double>(d.N * d.HW);
  const float* g = gamma.data<float>();
  const float* bt = beta.data<float>();
  float* rm = running_mean.data<float>();
  float* rv = running_var.data<float>();

  BatchNormForward out;
  out.save_mean = empty({d.C}, DType::F32, Layout::NCHW);
  out.save_invstd = empty({d.C}, DType::F32, Layout::NCHW);
  float* sm = out.save_mean.data<float>();
  float* si = out.save_invstd.data<float>();
  std::vector<double> scale(d.C), shift(d.C);

  // Two passes per channel (mean, then centred squares): no cancellation for large means.
  parallel_for(d.C, 1, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; c++) {
      double s = 0;
      for (int64_t n = 0; n < d.N; n++)
        for (int64_t i = d.at(n, c), end = i + d.HW; i < end; i++) s += xs[i];
      double mean = s / M, ss = 0;
      for (int64_t n = 0; n < d.N; n++)
        for (int64_t i = d.at(n, c), end = i + d.HW; i < end; i++) ss += (xs[i] - mean) * (xs[i] - mean);
      double var = ss / M;  // biased: what normalises this batch
      double invstd = 1.0 / std::sqrt(var + eps);
      sm[c] = static_cast<float>(mean);
      si[c] = static_cast<float>(invstd);
      // The running estimate takes the unbiased variance (PyTorch and cuDNN alike); the
      // binding guarantees M >= 2.
      rm[c] = static_cast<float>((1 - momentum) * rm[c] + momentum * mean);
      rv[c] = static_cast<float>((1 - momentum) * rv[c] + momentum * ss / (M - 1));
      scale[c] = g[c] * invstd;
      shift[c] = bt[c] - mean * scale[c];
    }
  });
  out.y = affine_act(x, xs, scale, shift, residual, relu);
  return out;
}

Tensor CpuBackend::batchnorm_forward_inference(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                               const Tensor& running_mean, const Tensor& running_var, double eps,
                                               const Tensor* residual, bool relu) {
  Dims d(x);
  std::vector<double> scale(d.C), shift(d.C);
  for (int64_t c = 0; c < d.C; c++) {
    double invstd = 1.0 / std::sqrt(static_cast<double>(running_var.data<float>()[c]) + eps);
    scale[c] = gamma.data<float>()[c] * invstd;
    shift[c] = beta.data<float>()[c] - running_mean.data<float>()[c] * scale[c];
  }
  return affine_act(x, to_f32_nchw(x), scale, shift, residual, relu);
}

// With g = dy masked by the ReLU (y > 0) and xhat = (x - mean) * invstd:
//   dbeta = sum g, dgamma = sum g * xhat,
//   dx = gamma * invstd / M * (M * g - dbeta - xhat * dgamma)
// and the residual, added before the activation, receives g itself.
BatchNormBackward CpuBackend::batchnorm_backward(const Tensor& dy, const Tensor& x, const Tensor& gamma,
                                                 const Tensor& save_mean, const Tensor& save_invstd, double eps,
                                                 const Tensor* y, bool relu, bool has_residual) {
  Dims d(x);
  std::vector<float> xs = to_f32_nchw(x);
  std::vector<float> gs = to_f32_nchw(dy);
  if (relu) {
    std::vector<float> ys = to_f32_nchw(*y);
    for (size_t i = 0; i < gs.size(); i++)
      if (!(ys[i] > 0.f)) gs[i] = 0.f;
  }
  const double M = static_cast<double>(d.N * d.HW);
  BatchNormBackward out;
  out.dgamma = empty({d.C}, DType::F32, Layout::NCHW);
  out.dbeta = empty({d.C}, DType::F32, Layout::NCHW);
  float* dg = out.dgamma.data<float>();
  float* db = out.dbeta.data<float>();
  std::vector<float> dxs(xs.size());
  parallel_for(d.C, 1, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; c++) {
      const double mean = save_mean.data<float>()[c], invstd = save_invstd.data<float>()[c];
      double sg = 0, sgx = 0;
      for (int64_t n = 0; n < d.N; n++)
        for (int64_t i = d.at(n, c), end = i + d.HW; i < end; i++) {
          sg += gs[i];
          sgx += gs[i] * (xs[i] - mean) * invstd;
        }
      db[c] = static_cast<float>(sg);
      dg[c] = static_cast<float>(sgx);
      const double k = gamma.data<float>()[c] * invstd / M;
      for (int64_t n = 0; n < d.N; n++)
        for (int64_t i = d.at(n, c), end = i + d.HW; i < end; i++)
          dxs[i] = static_cast<float>(k * (M * gs[i] - sg - (xs[i] - mean) * invstd * sgx));
    }
  });
  out.dx = from_f32_nchw(dxs, x.shape, dy.dtype, dy.layout);
  if (has_residual) out.dresidual = from_f32_nchw(gs, x.shape, dy.dtype, dy.layout);
  return out;
}

}  // namespace cr
