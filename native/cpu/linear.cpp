// Fully connected layer, y[N, M] = x[N, K] . w[M, K]^T + b[M], and its gradients, each one
// GEMM with the transposes expressed as swapped strides. Results take the dtype of their
// first operand; the bias gradient is fp32 like the convolution's.
#include <algorithm>

#include "cpu_backend.h"
#include "gemm.h"
#include "parallel.h"

namespace cr {

Tensor CpuBackend::linear_forward(const Tensor& x, const Tensor& w, const Tensor* bias) {
  const int64_t N = x.shape[0], K = x.shape[1], M = w.shape[0];
  std::vector<float> hx, hw, hb;
  const float* xs = f32_view(x, hx);
  const float* ws = f32_view(w, hw);
  const float* bs = bias ? f32_view(*bias, hb) : nullptr;
  F32Result out(*this, {N, M}, x.dtype, Layout::NCHW);
  float* y = out.data();
  if (bs)
    for (int64_t n = 0; n < N; n++) std::copy(bs, bs + M, y + n * M);
  sgemm(N, M, K, 1.f, xs, K, 1, ws, 1, K, bs ? 1.f : 0.f, y, M, 1);
  return out.finish();
}

Tensor CpuBackend::linear_backward_data(const Tensor& dy, const Tensor& w) {
  const int64_t N = dy.shape[0], M = dy.shape[1], K = w.shape[1];
  std::vector<float> hdy, hw;
  const float* dys = f32_view(dy, hdy);
  const float* ws = f32_view(w, hw);
  F32Result out(*this, {N, K}, dy.dtype, Layout::NCHW);
  sgemm(N, K, M, 1.f, dys, M, 1, ws, K, 1, 0.f, out.data(), K, 1);  // dx = dy . w
  return out.finish();
}

Tensor CpuBackend::linear_backward_weight(const Tensor& dy, const Tensor& x) {
  const int64_t N = dy.shape[0], M = dy.shape[1], K = x.shape[1];
  std::vector<float> hdy, hx;
  const float* dys = f32_view(dy, hdy);
  const float* xs = f32_view(x, hx);
  F32Result out(*this, {M, K}, dy.dtype, Layout::NCHW);
  sgemm(M, K, N, 1.f, dys, 1, M, xs, K, 1, 0.f, out.data(), K, 1);  // dw = dy^T . x
  return out.finish();
}

Tensor CpuBackend::linear_backward_bias(const Tensor& dy) {
  const int64_t N = dy.shape[0], M = dy.shape[1];
  std::vector<float> hdy;
  const float* dys = f32_view(dy, hdy);
  Tensor db = empty({M}, DType::F32, Layout::NCHW);
  float* out = db.data<float>();
  parallel_for(M, 64, [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; m++) {
      double s = 0;
      for (int64_t n = 0; n < N; n++) s += dys[n * M + m];
      out[m] = static_cast<float>(s);
    }
  });
  return db;
}

}  // namespace cr
