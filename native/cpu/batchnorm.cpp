// Spatial batch normalization (statistics per channel over N, H, W), cuDNN's
// CUDNN_BATCHNORM_SPATIAL semantics with the optional fused residual add and ReLU of
// cudnnBatchNormalizationForwardTrainingEx. Inputs are read as fp32 NCHW (in place when
// they already are, else through a converted copy), so every loop below walks one
// contiguous plane per (n, c). Each plane is reduced in fp32 over 8 independent lanes (which
// the compiler vectorises) and the plane totals in double: accurate to well below the
// output's rounding, and an order of magnitude faster than a serial double sum.
#include <algorithm>
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

constexpr int kLanes = 8;
// Elements per parallel chunk of plane-wise loops: enough work to be worth a thread.
constexpr int64_t kPlaneGrain = 1 << 14;

// sum over a plane of f(i), i the element's offset in the plane.
template <typename F>
double plane_sum(int64_t len, F f) {
  float acc[kLanes] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + kLanes <= len; i += kLanes)
    for (int j = 0; j < kLanes; j++) acc[j] += f(i + j);
  double s = 0;
  for (; i < len; i++) s += f(i);
  for (int j = 0; j < kLanes; j++) s += acc[j];
  return s;
}

// The sums over a plane of f(i) and h(i) in one pass over memory, each over its own lanes
// in the same order as plane_sum (so the same bits as two plane_sum calls).
template <typename F, typename H>
void plane_sum2(int64_t len, F f, H h, double& sf, double& sh) {
  float af[kLanes] = {0, 0, 0, 0, 0, 0, 0, 0}, ah[kLanes] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + kLanes <= len; i += kLanes)
    for (int j = 0; j < kLanes; j++) {
      af[j] += f(i + j);
      ah[j] += h(i + j);
    }
  double tf = 0, th = 0;
  for (; i < len; i++) {
    tf += f(i);
    th += h(i);
  }
  for (int j = 0; j < kLanes; j++) {
    tf += af[j];
    th += ah[j];
  }
  sf += tf;
  sh += th;
}

// A plane's sum and its sum of squares about its own mean. The plane is small enough
// (at most a few KB for CIFAR shapes) that the second read comes from L1.
void plane_moments(const float* p, int64_t len, double& sum, double& m2) {
  sum = plane_sum(len, [p](int64_t i) { return p[i]; });
  const float mf = static_cast<float>(sum / len);
  const double centred = plane_sum(len, [p, mf](int64_t i) { return (p[i] - mf) * (p[i] - mf); });
  // Sum of squares about the exact mean, from the one about its rounding mf.
  const double dm = sum / len - mf;
  m2 = std::max(0.0, centred - len * dm * dm);
}

// y = act(scale[c] * x + shift[c] + residual), delivered in x's dtype and layout.
Tensor affine_act(Backend& be, const Tensor& x, const float* xs, const std::vector<float>& scale,
                  const std::vector<float>& shift, const Tensor* residual, bool relu) {
  Dims d(x);
  std::vector<float> rhold;
  const float* rs = residual ? f32_view(*residual, rhold) : nullptr;
  F32Result out(be, x.shape, x.dtype, x.layout);
  float* ys = out.data();
  parallel_for(d.N * d.C, 16, [&](int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; nc++) {
      const int64_t c = nc % d.C, base = nc * d.HW;
      const float sc = scale[c], sh = shift[c];
      for (int64_t i = base; i < base + d.HW; i++) {
        float v = sc * xs[i] + sh;
        if (rs) v += rs[i];
        if (relu) v = v > 0.f ? v : 0.f;  // as relu_forward
        ys[i] = v;
      }
    }
  });
  return out.finish();
}

}  // namespace

BatchNormForward CpuBackend::batchnorm_forward_training(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                                        const Tensor& running_mean, const Tensor& running_var,
                                                        double momentum, double eps, const Tensor* residual,
                                                        bool relu) {
  Dims d(x);
  std::vector<float> xhold;
  const float* xs = f32_view(x, xhold);
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
  std::vector<float> scale(d.C), shift(d.C);

  // One pass over memory: each plane's sum and its squares about its own mean (the second
  // read hits L1), then per channel the planes combine in n order (Chan et al.'s pairwise
  // update, exact up to rounding, no cancellation for large means). The work splits over
  // planes, so both threads stream contiguous memory whatever C is, and the result does not
  // depend on the thread count.
  std::vector<double> psum(d.N * d.C), pm2(d.N * d.C);
  parallel_for(d.N * d.C, std::max<int64_t>(1, kPlaneGrain / d.HW), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; p++) plane_moments(xs + p * d.HW, d.HW, psum[p], pm2[p]);
  });
  for (int64_t c = 0; c < d.C; c++) {
    double s = 0;
    for (int64_t n = 0; n < d.N; n++) s += psum[n * d.C + c];
    const double mean = s / M;
    double ss = 0;
    for (int64_t n = 0; n < d.N; n++) {
      const double dm = psum[n * d.C + c] / d.HW - mean;
      ss += pm2[n * d.C + c] + d.HW * dm * dm;
    }
    const double var = ss / M;  // biased: what normalises this batch
    const double invstd = 1.0 / std::sqrt(var + eps);
    sm[c] = static_cast<float>(mean);
    si[c] = static_cast<float>(invstd);
    // The running estimate takes the unbiased variance (PyTorch and cuDNN alike); the
    // binding guarantees M >= 2.
    rm[c] = static_cast<float>((1 - momentum) * rm[c] + momentum * mean);
    rv[c] = static_cast<float>((1 - momentum) * rv[c] + momentum * ss / (M - 1));
    scale[c] = static_cast<float>(g[c] * invstd);
    shift[c] = static_cast<float>(bt[c] - mean * g[c] * invstd);
  }
  out.y = affine_act(*this, x, xs, scale, shift, residual, relu);
  return out;
}

Tensor CpuBackend::batchnorm_forward_inference(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                               const Tensor& running_mean, const Tensor& running_var, double eps,
                                               const Tensor* residual, bool relu) {
  Dims d(x);
  std::vector<float> scale(d.C), shift(d.C);
  for (int64_t c = 0; c < d.C; c++) {
    const double invstd = 1.0 / std::sqrt(static_cast<double>(running_var.data<float>()[c]) + eps);
    const double sc = gamma.data<float>()[c] * invstd;
    scale[c] = static_cast<float>(sc);
    shift[c] = static_cast<float>(beta.data<float>()[c] - running_mean.data<float>()[c] * sc);
  }
  std::vector<float> xhold;
  return affine_act(*this, x, f32_view(x, xhold), scale, shift, residual, relu);
}

// With g = dy masked by the ReLU (y > 0) and xhat = (x - mean) * invstd:
//   dbeta = sum g, dgamma = sum g * xhat,
//   dx = gamma * invstd / M * (M * g - dbeta - xhat * dgamma)
// and the residual, added before the activation, receives g itself.
BatchNormBackward CpuBackend::batchnorm_backward(const Tensor& dy, const Tensor& x, const Tensor& gamma,
                                                 const Tensor& save_mean, const Tensor& save_invstd, double eps,
                                                 const Tensor* y, bool relu, bool has_residual, const Tensor*,
                                                 const Tensor*) {
  Dims d(x);
  std::vector<float> xhold, ghold, yhold;
  const float* xs = f32_view(x, xhold);
  const float* gs = f32_view(dy, ghold);
  const float* ys = relu ? f32_view(*y, yhold) : nullptr;
  const float* mean = save_mean.data<float>();
  const double M = static_cast<double>(d.N * d.HW);
  BatchNormBackward out;
  out.dgamma = empty({d.C}, DType::F32, Layout::NCHW);
  out.dbeta = empty({d.C}, DType::F32, Layout::NCHW);
  F32Result dxr(*this, x.shape, dy.dtype, dy.layout);
  F32Result dres(*this, has_residual ? x.shape : Shape{1}, dy.dtype, dy.layout);
  float* dxs = dxr.data();
  // The ReLU-masked gradient is written where it is needed next: into the residual's
  // gradient (it is that gradient), else into dx, which the second pass then overwrites in
  // place. Without a ReLU there is nothing to mask and dy is read directly.
  float* gm = has_residual ? dres.data() : relu ? dxs : nullptr;

  // Pass 1, plane by plane: mask, store and reduce in one read of dy, y and x.
  std::vector<double> psg(d.N * d.C), psgx(d.N * d.C);
  const int64_t grain = std::max<int64_t>(1, kPlaneGrain / d.HW);
  parallel_for(d.N * d.C, grain, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; p++) {
      const int64_t o = p * d.HW;
      const float m = mean[p % d.C];
      const float* xp = xs + o;
      const float* gp = gs + o;
      if (gm) {
        float* mp = gm + o;
        if (ys) {
          const float* yp = ys + o;
          for (int64_t i = 0; i < d.HW; i++) {  // both loads unconditional: a select, not a branch
            const float g = gp[i];
            mp[i] = yp[i] > 0.f ? g : 0.f;  // as relu_backward
          }
        } else {
          for (int64_t i = 0; i < d.HW; i++) mp[i] = gp[i];
        }
        gp = mp;  // still in L1: the sums below read it back
      }
      double sg = 0, sgx = 0;
      plane_sum2(
          d.HW, [gp](int64_t i) { return gp[i]; }, [gp, xp, m](int64_t i) { return gp[i] * (xp[i] - m); }, sg, sgx);
      psg[p] = sg;
      psgx[p] = sgx;
    }
  });
  const float* gsrc = gm ? gm : gs;

  // Per channel, the planes' sums in n order (the same bits whatever the thread count).
  float* dg = out.dgamma.data<float>();
  float* db = out.dbeta.data<float>();
  std::vector<float> k(d.C), fsg(d.C), fsgx(d.C);
  for (int64_t c = 0; c < d.C; c++) {
    double sg = 0, sgx = 0;
    for (int64_t n = 0; n < d.N; n++) {
      sg += psg[n * d.C + c];
      sgx += psgx[n * d.C + c];
    }
    const double invstd = save_invstd.data<float>()[c];
    sgx *= invstd;
    db[c] = static_cast<float>(sg);
    dg[c] = static_cast<float>(sgx);
    k[c] = static_cast<float>(gamma.data<float>()[c] * invstd / M);
    fsg[c] = static_cast<float>(sg);
    fsgx[c] = static_cast<float>(sgx * invstd);
  }

  // Pass 2: dx from the (masked) gradient and x; in place when the masked gradient is in dx.
  const float fm = static_cast<float>(M);
  parallel_for(d.N * d.C, grain, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; p++) {
      const int64_t o = p * d.HW, c = p % d.C;
      const float kc = k[c], sgc = fsg[c], sgxc = fsgx[c], m = mean[c];
      const float* xp = xs + o;
      float* dp = dxs + o;
      if (gsrc == dxs)  // one pointer, so the compiler vectorises without an overlap check
        for (int64_t i = 0; i < d.HW; i++) dp[i] = kc * (fm * dp[i] - sgc - (xp[i] - m) * sgxc);
      else
        for (int64_t i = 0; i < d.HW; i++) dp[i] = kc * (fm * gsrc[o + i] - sgc - (xp[i] - m) * sgxc);
    }
  });
  out.dx = dxr.finish();
  if (has_residual) out.dresidual = dres.finish();
  return out;
}

}  // namespace cr
