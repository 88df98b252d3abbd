// The option-A shortcut of He et al.'s CIFAR ResNets: subsample x[:, :, ::s, ::s] and pad
// channels with zeros, (out - in) / 2 in front and the rest behind (so an odd difference
// puts the extra channel at the end). Pure data movement, so it copies element bytes in
// any dtype and either layout, and the backward is the adjoint scatter: the kept channels'
// gradient lands on the strided positions of dx, zeros everywhere else.
#include <algorithm>
#include <cstring>

#include "cpu_backend.h"
#include "parallel.h"

namespace cr {

namespace {

// Memory index of logical (n, c, h, w) in a [N, C, H, W] tensor of the given layout.
struct Indexer {
  int64_t C, H, W;
  bool nhwc;
  Indexer(const Shape& s, Layout l) : C(s[1]), H(s[2]), W(s[3]), nhwc(l == Layout::NHWC) {}
  int64_t operator()(int64_t n, int64_t c, int64_t h, int64_t w) const {
    return nhwc ? ((n * H + h) * W + w) * C + c : ((n * C + c) * H + h) * W + w;
  }
};

// For every element of the small tensor `sub` ([N, OC, Ho, Wo]), whose channel c maps to
// channel c - front of the big tensor `full` ([N, IC, H, W]) at (h * s, w * s): copies
// full -> sub when `gather`, sub -> full otherwise. Channels outside [front, front + IC)
// of sub are zero-filled when gathering and skipped when scattering.
void walk(const Tensor& sub, const Tensor& full, int64_t front, int s, bool gather) {
  const Indexer is(sub.shape, sub.layout), ifull(full.shape, full.layout);
  const int64_t N = sub.shape[0], OC = is.C, IC = ifull.C;
  const size_t es = dtype_size(sub.dtype);
  char* sp = static_cast<char*>(sub.raw());
  char* fp = static_cast<char*>(full.raw());
  parallel_for(N * is.H, 8, [&](int64_t b, int64_t e) {
    for (int64_t nh = b; nh < e; nh++) {
      const int64_t n = nh / is.H, h = nh % is.H;
      for (int64_t w = 0; w < is.W; w++)
        for (int64_t c = 0; c < OC; c++) {
          char* ps = sp + is(n, c, h, w) * es;
          const int64_t ci = c - front;
          if (ci < 0 || ci >= IC) {
            if (gather) std::memset(ps, 0, es);  // +0.0 in every float format
            continue;
          }
          char* pf = fp + ifull(n, ci, h * s, w * s) * es;
          if (gather)
            std::memcpy(ps, pf, es);
          else
            std::memcpy(pf, ps, es);
        }
    }
  });
}

// NCHW, element size ES: whole planes and rows at a time. Channels outside the copied range
// are one memset per plane; a kept row is a strided gather (forward), and the backward
// writes every row of dx once, interleaving the gradient with the zeros the stride skips,
// instead of clearing dx and scattering into it.
template <size_t ES>
void gather_nchw(const Tensor& y, const Tensor& x, int64_t front, int s) {
  const int64_t N = y.shape[0], OC = y.shape[1], Ho = y.shape[2], Wo = y.shape[3];
  const int64_t IC = x.shape[1], H = x.shape[2], W = x.shape[3];
  char* yp = static_cast<char*>(y.raw());
  const char* xp = static_cast<const char*>(x.raw());
  parallel_for(N * OC, std::max<int64_t>(1, (1 << 14) / (Ho * Wo)), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; p++) {
      const int64_t n = p / OC, ci = p % OC - front;
      char* out = yp + p * Ho * Wo * ES;
      if (ci < 0 || ci >= IC) {
        std::memset(out, 0, Ho * Wo * ES);  // +0.0 in every float format
        continue;
      }
      const char* in = xp + (n * IC + ci) * H * W * ES;
      for (int64_t h = 0; h < Ho; h++) {
        const char* row = in + h * s * W * ES;
        char* o = out + h * Wo * ES;
        for (int64_t w = 0; w < Wo; w++) std::memcpy(o + w * ES, row + w * s * ES, ES);
      }
    }
  });
}

template <size_t ES>
void scatter_nchw(const Tensor& dx, const Tensor& dy, int64_t front, int s) {
  const int64_t N = dx.shape[0], IC = dx.shape[1], H = dx.shape[2], W = dx.shape[3];
  const int64_t OC = dy.shape[1], Ho = dy.shape[2], Wo = dy.shape[3];
  char* dxp = static_cast<char*>(dx.raw());
  const char* dyp = static_cast<const char*>(dy.raw());
  parallel_for(N * IC, std::max<int64_t>(1, (1 << 14) / (H * W)), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; p++) {
      const int64_t n = p / IC, c = p % IC;
      const char* in = dyp + (n * OC + c + front) * Ho * Wo * ES;
      char* out = dxp + p * H * W * ES;
      for (int64_t h = 0; h < H; h++) {
        char* o = out + h * W * ES;
        if (h % s != 0) {
          std::memset(o, 0, W * ES);
          continue;
        }
        const char* row = in + (h / s) * Wo * ES;
        if (s == 1) {
          std::memcpy(o, row, W * ES);
          continue;
        }
        std::memset(o, 0, W * ES);
        for (int64_t w = 0; w < Wo; w++) std::memcpy(o + w * s * ES, row + w * ES, ES);
      }
    }
  });
}

}  // namespace

Tensor CpuBackend::shortcut_a_forward(const Tensor& x, int64_t out_channels, int stride) {
  const int64_t Ho = (x.shape[2] + stride - 1) / stride, Wo = (x.shape[3] + stride - 1) / stride;
  Tensor y = empty({x.shape[0], out_channels, Ho, Wo}, x.dtype, x.layout);
  const int64_t front = (out_channels - x.shape[1]) / 2;
  if (x.layout == Layout::NCHW && dtype_size(x.dtype) == 4)
    gather_nchw<4>(y, x, front, stride);
  else if (x.layout == Layout::NCHW && dtype_size(x.dtype) == 2)
    gather_nchw<2>(y, x, front, stride);
  else
    walk(y, x, front, stride, true);
  return y;
}

Tensor CpuBackend::shortcut_a_backward(const Tensor& dy, int64_t in_channels, int stride, const Shape& x_shape) {
  Tensor dx = empty(x_shape, dy.dtype, dy.layout);
  const int64_t front = (dy.shape[1] - in_channels) / 2;
  if (dy.layout == Layout::NCHW && dtype_size(dy.dtype) == 4) {
    scatter_nchw<4>(dx, dy, front, stride);
  } else if (dy.layout == Layout::NCHW && dtype_size(dy.dtype) == 2) {
    scatter_nchw<2>(dx, dy, front, stride);
  } else {
    std::memset(dx.raw(), 0, dx.nbytes());
    walk(dy, dx, front, stride, false);
  }
  return dx;
}

}  // namespace cr
