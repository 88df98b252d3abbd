// ReLU forward/backward, add, scale and axpy. All work in memory order, so they serve any
// layout; the bindings require both operands of a binary op to share shape, dtype and layout.
#include "cpu_backend.h"
#include "parallel.h"

namespace cr {

namespace {

constexpr int64_t kGrain = 1 << 14;

template <typename F>
Tensor map_unary(CpuBackend& be, const Tensor& x, F f) {
  Tensor y = be.empty(x.shape, x.dtype, x.layout);
  if (x.dtype == DType::F32) {
    const float* xp = x.data<float>();
    float* yp = y.data<float>();
    parallel_for(x.numel(), kGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; i++) yp[i] = f(xp[i]);
    });
  } else {
    parallel_for(x.numel(), kGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; i++) store_float(y, i, f(load_float(x, i)));
    });
  }
  return y;
}

template <typename F>
Tensor map_binary(CpuBackend& be, const Tensor& a, const Tensor& b, F f) {
  Tensor y = be.empty(a.shape, a.dtype, a.layout);
  if (a.dtype == DType::F32) {
    const float* ap = a.data<float>();
    const float* bp = b.data<float>();
    float* yp = y.data<float>();
    parallel_for(a.numel(), kGrain, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; i++) yp[i] = f(ap[i], bp[i]);
    });
  } else {
    parallel_for(a.numel(), kGrain, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; i++) store_float(y, i, f(load_float(a, i), load_float(b, i)));
    });
  }
  return y;
}

}  // namespace

Tensor CpuBackend::relu_forward(const Tensor& x) {
  return map_unary(*this, x, [](float v) { return v > 0.f ? v : 0.f; });
}

// The mask comes from the output (y > 0), as cuDNN's activation backward does.
Tensor CpuBackend::relu_backward(const Tensor& dy, const Tensor& y) {
  return map_binary(*this, dy, y, [](float g, float out) { return out > 0.f ? g : 0.f; });
}

Tensor CpuBackend::add(const Tensor& a, const Tensor& b) {
  return map_binary(*this, a, b, [](float u, float v) { return u + v; });
}

Tensor CpuBackend::scale(const Tensor& x, float alpha) {
  return map_unary(*this, x, [alpha](float v) { return alpha * v; });
}

void CpuBackend::axpy_(float alpha, const Tensor& x, const Tensor& y) {
  parallel_for(y.numel(), kGrain, [&](int64_t b, int64_t e) {
    if (y.dtype == DType::F32 && x.dtype == DType::F32) {
      const float* xp = x.data<float>();
      float* yp = y.data<float>();
      for (int64_t i = b; i < e; i++) yp[i] += alpha * xp[i];
    } else {
      for (int64_t i = b; i < e; i++) store_float(y, i, load_float(y, i) + alpha * load_float(x, i));
    }
  });
}

}  // namespace cr
