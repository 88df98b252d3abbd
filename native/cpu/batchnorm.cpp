// Spatial batch normalization (statistics per channel over N, H, W), cuDNN's
// CUDNN_BATCHNORM_SPATIAL semantics with the optional fused residual add and ReLU of
// cudnnBatchNormalizationForwardTrainingEx. Inputs are read as fp32 NCHW (in place when
// they already are, else through a converted copy), so every loop below walks one
// contiguous plane per (n, c), and the work splits over planes. Each plane is reduced in
// fp32 over 16 independent lanes and the plane totals in double: accurate to well below the
// output's rounding, and an order of magnitude faster than a serial double sum.
//
// The plane loops are compiled once per instruction set (AVX-512, AVX2, the build's
// baseline) and chosen at run time. Lane j always sums elements j, j + 16, ... in order and
// nothing is contracted into FMAs, so every choice gives the same bits.
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
};

constexpr int kLanes = 16;
// Elements per parallel chunk of plane-wise loops: enough work to be worth a thread.
constexpr int64_t kPlaneGrain = 1 << 14;

#define CR_BN_INLINE inline __attribute__((always_inline))

// sum over a plane of f(i), i the element's offset in the plane.
template <typename F>
CR_BN_INLINE double plane_sum(int64_t len, F f) {
  float acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= len; i += kLanes)
    for (int j = 0; j < kLanes; j++) acc[j] += f(i + j);
  double s = 0;
  for (; i < len; i++) s += f(i);
  for (int j = 0; j < kLanes; j++) s += acc[j];
  return s;
}

// A plane's sum and its sum of squares about its own mean; the second read of the plane
// comes from L1 (CIFAR) or L2 (ImageNet-sized planes).
CR_BN_INLINE void moments_body(const float* p, int64_t len, double& sum, double& m2) {
  sum = plane_sum(len, [p](int64_t i) { return p[i]; });
  const float mf = static_cast<float>(sum / len);
  const double centred = plane_sum(len, [p, mf](int64_t i) { return (p[i] - mf) * (p[i] - mf); });
  // Sum of squares about the exact mean, from the one about its rounding mf.
  const double dm = sum / len - mf;
  m2 = std::max(0.0, centred - len * dm * dm);
}

// y = act(sc * x + sh + r) over a plane; r may be null. The loops are separate so each
// vectorises without a test per element.
CR_BN_INLINE void affine_body(const float* x, const float* r, float* y, int64_t len, float sc, float sh, bool relu) {
  if (r && relu)
    for (int64_t i = 0; i < len; i++) {
      const float v = sc * x[i] + sh + r[i];
      y[i] = v > 0.f ? v : 0.f;  // as relu_forward
    }
  else if (r)
    for (int64_t i = 0; i < len; i++) y[i] = sc * x[i] + sh + r[i];
  else if (relu)
    for (int64_t i = 0; i < len; i++) {
      const float v = sc * x[i] + sh;
      y[i] = v > 0.f ? v : 0.f;
    }
  else
    for (int64_t i = 0; i < len; i++) y[i] = sc * x[i] + sh;
}

// The backward's first pass over a plane: g = dy masked by y > 0 (when y is given), stored
// into gm (when given), and the sums of g and of g * (x - mean), each over its own lanes.
CR_BN_INLINE void grad_sums_body(const float* dy, const float* y, const float* x, float* gm, int64_t len, float mean,
                                 double& sg, double& sgx) {
  const float* g = dy;
  if (gm) {
    if (y)
      for (int64_t i = 0; i < len; i++) {  // both loads unconditional: a select, not a branch
        const float v = dy[i];
        gm[i] = y[i] > 0.f ? v : 0.f;  // as relu_backward
      }
    else
      for (int64_t i = 0; i < len; i++) gm[i] = dy[i];
    g = gm;  // read back from L1
  }
  // Two reductions rather than one loop with two accumulator sets: GCC vectorises each
  // cleanly, and the second read of the plane comes from L1.
  sg = plane_sum(len, [g](int64_t i) { return g[i]; });
  sgx = plane_sum(len, [g, x, mean](int64_t i) { return g[i] * (x[i] - mean); });
}

// dx = k * (M * g - sg - (x - mean) * sgx) over a plane; g may be dx itself (in place).
CR_BN_INLINE void grad_input_body(const float* g, const float* x, float* dx, int64_t len, float k, float fm, float sg,
                                  float sgx, float mean) {
  if (g == dx)  // one pointer, so the compiler vectorises without an overlap check
    for (int64_t i = 0; i < len; i++) dx[i] = k * (fm * dx[i] - sg - (x[i] - mean) * sgx);
  else
    for (int64_t i = 0; i < len; i++) dx[i] = k * (fm * g[i] - sg - (x[i] - mean) * sgx);
}

struct PlaneKernels {
  void (*moments)(const float*, int64_t, double&, double&);
  void (*affine)(const float*, const float*, float*, int64_t, float, float, bool);
  void (*grad_sums)(const float*, const float*, const float*, float*, int64_t, float, double&, double&);
  void (*grad_input)(const float*, const float*, float*, int64_t, float, float, float, float, float);
};

// One set of plane kernels compiled with the given function attributes.
#define CR_BN_KERNELS(NAME, ATTR) \
  ATTR void NAME##_moments(const float* p, int64_t len, double& s, double& m2) { moments_body(p, len, s, m2); } \
  ATTR void NAME##_affine(const float* x, const float* r, float* y, int64_t len, float sc, float sh, bool relu) { \
    affine_body(x, r, y, len, sc, sh, relu); \
  } \
  ATTR void NAME##_grad_sums(const float* dy, const float* y, const float* x, float* gm, int64_t len, float mean, \
                             double& sg, double& sgx) { \
    grad_sums_body(dy, y, x, gm, len, mean, sg, sgx); \
  } \
  ATTR void NAME##_grad_input(const float* g, const float* x, float* dx, int64_t len, float k, float fm, float sg, \
                              float sgx, float mean) { \
    grad_input_body(g, x, dx, len, k, fm, sg, sgx, mean); \
  } \
  constexpr PlaneKernels NAME##_kernels{NAME##_moments, NAME##_affine, NAME##_grad_sums, NAME##_grad_input};

CR_BN_KERNELS(baseline, )
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CR_BN_X86 1
CR_BN_KERNELS(avx2, __attribute__((target("avx2"))))
CR_BN_KERNELS(avx512, __attribute__((target("avx512f"))))
#endif

// By cpu_vector_isa(): the GEMM's cap applies here too.
const PlaneKernels& kernels() {
  static const PlaneKernels k = [] {
#ifdef CR_BN_X86
    switch (cpu_vector_isa()) {
      case VectorIsa::Avx512: return avx512_kernels;
      case VectorIsa::Avx2: return avx2_kernels;
      case VectorIsa::Baseline: break;
    }
#endif
    return baseline_kernels;
  }();
  return k;
}

// y = act(scale[c] * x + shift[c] + residual), delivered in x's dtype and layout.
Tensor affine_act(Backend& be, const Tensor& x, const float* xs, const std::vector<float>& scale,
                  const std::vector<float>& shift, const Tensor* residual, bool relu) {
  Dims d(x);
  std::vector<float> rhold;
  const float* rs = residual ? f32_view(*residual, rhold) : nullptr;
  F32Result out(be, x.shape, x.dtype, x.layout);
  float* ys = out.data();
  const PlaneKernels& k = kernels();
  parallel_for(d.N * d.C, std::max<int64_t>(1, kPlaneGrain / d.HW), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; p++) {
      const int64_t c = p % d.C, o = p * d.HW;
      k.affine(xs + o, rs ? rs + o : nullptr, ys + o, d.HW, scale[c], shift[c], relu);
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
    const PlaneKernels& k = kernels();
    for (int64_t p = b; p < e; p++) k.moments(xs + p * d.HW, d.HW, psum[p], pm2[p]);
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
  const PlaneKernels& kern = kernels();
  parallel_for(d.N * d.C, grain, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; p++) {
      const int64_t o = p * d.HW;
      kern.grad_sums(gs + o, ys ? ys + o : nullptr, xs + o, gm ? gm + o : nullptr, d.HW, mean[p % d.C], psg[p],
                     psgx[p]);
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
      kern.grad_input(gsrc + o, xs + o, dxs + o, d.HW, k[c], fm, fsg[c], fsgx[c], mean[c]);
    }
  });
  out.dx = dxr.finish();
  if (has_residual) out.dresidual = dres.finish();
  return out;
}

}  // namespace cr
