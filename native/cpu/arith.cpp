// Broadcasting elementwise arithmetic in fp32 over the logical row-major order. Rows of the
// output's last dimension are the unit of work: each row decodes its coordinates once and
// then walks both operands with their (possibly zero) last-dimension strides.
#include <algorithm>
#include <cmath>

#include "cpu_backend.h"
#include "parallel.h"

namespace cr {

namespace {

constexpr int64_t kGrainElems = 1 << 14;

float apply(ArithOp op, float u, float v) {
  switch (op) {
    case ArithOp::Add: return u + v;
    case ArithOp::Sub: return u - v;
    case ArithOp::Mul: return u * v;
    case ArithOp::Div: return u / v;
  }
  return 0.f;
}

float apply(ScalarOp op, float x, float s) {
  switch (op) {
    case ScalarOp::Add: return x + s;
    case ScalarOp::Sub: return x - s;
    case ScalarOp::RSub: return s - x;
    case ScalarOp::Mul: return x * s;
    case ScalarOp::Div: return x / s;
    case ScalarOp::RDiv: return s / x;
    case ScalarOp::Pow: return std::pow(x, s);
  }
  return 0.f;
}

float apply(UnaryOp op, float x) {
  switch (op) {
    case UnaryOp::Neg: return -x;
    case UnaryOp::Exp: return std::exp(x);
    case UnaryOp::Log: return std::log(x);
    case UnaryOp::Sqrt: return std::sqrt(x);
    case UnaryOp::Abs: return std::fabs(x);
    case UnaryOp::Sign: return x > 0.f ? 1.f : x < 0.f ? -1.f : x == 0.f ? 0.f : x;  // -0 -> 0; NaN stays NaN
  }
  return 0.f;
}

// Calls row(r, off_a, off_b) for each row r of `out` (its last dimension), with the offsets
// of that row's first element in operands of the given broadcast strides.
template <typename F>
void for_each_row(const Shape& out, const Shape& sa, const Shape& sb, F row) {
  const int r = static_cast<int>(out.size());
  const int64_t last = out[r - 1], rows = shape_numel(out) / last;
  parallel_for(rows, std::max<int64_t>(1, kGrainElems / last), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) {
      int64_t rem = i, oa = 0, ob = 0;
      for (int k = r - 2; k >= 0; k--) {
        int64_t c = rem % out[k];
        rem /= out[k];
        oa += c * sa[k];
        ob += c * sb[k];
      }
      row(i, oa, ob);
    }
  });
}

}  // namespace

Tensor CpuBackend::arith_binary(const Tensor& a, const Tensor& b, ArithOp op) {
  Shape out;
  broadcast_shapes(a.shape, b.shape, out);
  std::vector<float> ha, hb;
  const float* ap = f32_view(a, ha);
  const float* bp = f32_view(b, hb);
  F32Result y(*this, out, a.dtype, Layout::NCHW);
  float* yp = y.data();
  const Shape sa = broadcast_strides(a.shape, out), sb = broadcast_strides(b.shape, out);
  const int64_t last = out.back(), la = sa.back(), lb = sb.back();
  for_each_row(out, sa, sb, [&](int64_t row, int64_t oa, int64_t ob) {
    float* yr = yp + row * last;
    for (int64_t j = 0; j < last; j++) yr[j] = apply(op, ap[oa + j * la], bp[ob + j * lb]);
  });
  return y.finish();
}

Tensor CpuBackend::broadcast_to(const Tensor& x, const Shape& shape) {
  std::vector<float> hx;
  const float* xp = f32_view(x, hx);
  F32Result y(*this, shape, x.dtype, Layout::NCHW);
  float* yp = y.data();
  const Shape sx = broadcast_strides(x.shape, shape);
  const int64_t last = shape.back(), lx = sx.back();
  for_each_row(shape, sx, sx, [&](int64_t row, int64_t ox, int64_t) {
    for (int64_t j = 0; j < last; j++) yp[row * last + j] = xp[ox + j * lx];
  });
  return y.finish();
}

Tensor CpuBackend::arith_scalar(const Tensor& x, double scalar, ScalarOp op) {
  std::vector<float> hx;
  const float* xp = f32_view(x, hx);
  F32Result y(*this, x.shape, x.dtype, Layout::NCHW);
  float* yp = y.data();
  const float s = static_cast<float>(scalar);
  parallel_for(x.numel(), kGrainElems, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) yp[i] = apply(op, xp[i], s);
  });
  return y.finish();
}

Tensor CpuBackend::arith_unary(const Tensor& x, UnaryOp op) {
  std::vector<float> hx;
  const float* xp = f32_view(x, hx);
  F32Result y(*this, x.shape, x.dtype, Layout::NCHW);
  float* yp = y.data();
  parallel_for(x.numel(), kGrainElems, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) yp[i] = apply(op, xp[i]);
  });
  return y.finish();
}

}  // namespace cr
