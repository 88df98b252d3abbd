// The option-A shortcut of He et al.'s CIFAR ResNets: subsample x[:, :, ::s, ::s] and pad
// channels with zeros, (out - in) / 2 in front and the rest behind (so an odd difference
// puts the extra channel at the end). Pure data movement, so it copies element bytes in
// any dtype and either layout, and the backward is the adjoint scatter: the kept channels'
// gradient lands on the strided positions of dx, zeros everywhere else.
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

}  // namespace

Tensor CpuBackend::shortcut_a_forward(const Tensor& x, int64_t out_channels, int stride) {
  const int64_t Ho = (x.shape[2] + stride - 1) / stride, Wo = (x.shape[3] + stride - 1) / stride;
  Tensor y = empty({x.shape[0], out_channels, Ho, Wo}, x.dtype, x.layout);
  walk(y, x, (out_channels - x.shape[1]) / 2, stride, true);
  return y;
}

Tensor CpuBackend::shortcut_a_backward(const Tensor& dy, int64_t in_channels, int stride, const Shape& x_shape) {
  Tensor dx = empty(x_shape, dy.dtype, dy.layout);
  std::memset(dx.raw(), 0, dx.nbytes());
  walk(dy, dx, (dy.shape[1] - in_channels) / 2, stride, false);
  return dx;
}

}  // namespace cr
