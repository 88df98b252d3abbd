// 2-D max and average pooling, forward and backward, with cuDNN's semantics: floor-mode
// output size, padding that never wins a max, average either over the whole window
// (CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING, PyTorch's AvgPool2d default) or over its
// in-bounds part. Max backward routes each gradient to the FIRST maximum of its window in
// row-major (kh, kw) order, the choice of cuDNN's CUDNN_POOLING_MAX_DETERMINISTIC; the
// position is recomputed from x, so ties never split a gradient. Global average pooling
// is the kernel = H x W case. Planes are independent, so work is split over N * C.
#include <algorithm>
#include <vector>

#include "cpu_backend.h"
#include "parallel.h"

namespace cr {

namespace {

struct Geometry {
  int64_t NC, H, W, Ho, Wo;
  Geometry(const Shape& x, const Pool2dParams& p)
      : NC(x[0] * x[1]),
        H(x[2]),
        W(x[3]),
        Ho(conv_out_size(x[2], p.kernel_h, p.stride_h, p.pad_h, 1)),
        Wo(conv_out_size(x[3], p.kernel_w, p.stride_w, p.pad_w, 1)) {}
};

// The in-bounds part [h0, h1) x [w0, w1) of output (oh, ow)'s window.
struct Window {
  int64_t h0, h1, w0, w1;
  Window(const Geometry& g, const Pool2dParams& p, int64_t oh, int64_t ow) {
    int64_t hs = oh * p.stride_h - p.pad_h, ws = ow * p.stride_w - p.pad_w;
    h0 = hs < 0 ? 0 : hs;
    w0 = ws < 0 ? 0 : ws;
    h1 = hs + p.kernel_h < g.H ? hs + p.kernel_h : g.H;
    w1 = ws + p.kernel_w < g.W ? ws + p.kernel_w : g.W;
  }
  // Floor-mode windows never reach past the padded input, so including padding always
  // divides by the full kernel area.
  double divisor(const Pool2dParams& p) const {
    return p.count_include_pad ? static_cast<double>(p.kernel_h) * p.kernel_w
                               : static_cast<double>((h1 - h0) * (w1 - w0));
  }
};

// Index within the plane of the first maximum of the window (the binding guarantees every
// window holds at least one in-bounds element: pad <= kernel / 2).
// The running maximum is kept in a register and updated by selects, not branches: which
// element wins is data-dependent, so a branch mispredicted on about every other element.
int64_t argmax(const float* plane, const Geometry& g, const Window& win) {
  int64_t best = win.h0 * g.W + win.w0;
  float bv = plane[best];
  for (int64_t h = win.h0; h < win.h1; h++)
    for (int64_t w = win.w0; w < win.w1; w++) {
      const int64_t i = h * g.W + w;
      const float v = plane[i];
      const bool more = v > bv;
      best = more ? i : best;
      bv = more ? v : bv;
    }
  return best;
}

}  // namespace

Tensor CpuBackend::pool2d_forward(const Tensor& x, const Pool2dParams& p) {
  Geometry g(x.shape, p);
  std::vector<float> hx;
  const float* xs = f32_view(x, hx);
  F32Result out(*this, {x.shape[0], x.shape[1], g.Ho, g.Wo}, x.dtype, x.layout);
  float* ys = out.data();
  parallel_for(g.NC, 4, [&](int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; nc++) {
      const float* plane = xs + nc * g.H * g.W;
      float* yp = ys + nc * g.Ho * g.Wo;
      for (int64_t oh = 0; oh < g.Ho; oh++)
        for (int64_t ow = 0; ow < g.Wo; ow++) {
          Window win(g, p, oh, ow);
          if (p.mode == PoolMode::Max) {
            yp[oh * g.Wo + ow] = plane[argmax(plane, g, win)];
          } else {
            double s = 0;
            for (int64_t h = win.h0; h < win.h1; h++)
              for (int64_t w = win.w0; w < win.w1; w++) s += plane[h * g.W + w];
            yp[oh * g.Wo + ow] = static_cast<float>(s / win.divisor(p));
          }
        }
    }
  });
  return out.finish();
}

Tensor CpuBackend::pool2d_backward(const Tensor& dy, const Tensor& x, const Tensor& y, const Pool2dParams& p) {
  Geometry g(x.shape, p);
  std::vector<float> hdy, hx;
  const float* gs = f32_view(dy, hdy);
  const float* xs = p.mode == PoolMode::Max ? f32_view(x, hx) : nullptr;
  F32Result out(*this, x.shape, dy.dtype, dy.layout);
  float* dxs = out.data();
  // Accumulated in double per plane: overlapping windows add several contributions.
  parallel_for(g.NC, 4, [&](int64_t b, int64_t e) {
    std::vector<double> acc(static_cast<size_t>(g.H * g.W));
    for (int64_t nc = b; nc < e; nc++) {
      std::fill(acc.begin(), acc.end(), 0.0);
      const float* grad = gs + nc * g.Ho * g.Wo;
      for (int64_t oh = 0; oh < g.Ho; oh++)
        for (int64_t ow = 0; ow < g.Wo; ow++) {
          Window win(g, p, oh, ow);
          double v = grad[oh * g.Wo + ow];
          if (p.mode == PoolMode::Max) {
            acc[argmax(xs + nc * g.H * g.W, g, win)] += v;
          } else {
            v /= win.divisor(p);
            for (int64_t h = win.h0; h < win.h1; h++)
              for (int64_t w = win.w0; w < win.w1; w++) acc[h * g.W + w] += v;
          }
        }
      float* dp = dxs + nc * g.H * g.W;
      for (int64_t i = 0; i < g.H * g.W; i++) dp[i] = static_cast<float>(acc[i]);
    }
  });
  return out.finish();
}

}  // namespace cr
