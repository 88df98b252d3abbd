// 2-D max and average pooling, forward and backward, with cuDNN's semantics: floor-mode
// output size, padding that never wins a max, average either over the whole window
// (CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING, PyTorch's AvgPool2d default) or over its
// in-bounds part. Max backward routes each gradient to the FIRST maximum of its window in
// row-major (kh, kw) order, the choice of cuDNN's CUDNN_POOLING_MAX_DETERMINISTIC; the
// position is recomputed from x, so ties never split a gradient. Global average pooling
// is the kernel = H x W case. Planes are independent, so work is split over N * C.
//
// Max pooling with 3-wide windows at stride 2 along W (the ResNet stem's 3x3/2 pool) takes
// a faster path for the columns whose windows lie inside the plane: blocks of outputs of a
// row, taps in the window's row-major order with the same strict v > best update as
// argmax(), so values, ties and NaNs come out as on the scalar path, and the backward adds
// into the plane's sums in the same order. The forward's loops are compiled for AVX-512,
// AVX2 and the baseline, the backward's for AVX2 (the baseline keeps the scalar path),
// chosen at run time under the cap of the GEMM's kernel (CUDNN_RESNET_CPU_GEMM) like batch
// norm's.
#include <algorithm>
#include <cstdint>
#include <cstring>
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

#define CR_POOL_INLINE inline __attribute__((always_inline))

// The first maximum over the taps of outputs [0, n) of one row whose windows are rows
// [h0, h1) x columns ws + 2i + {0, 1, 2}, all in bounds, into best. Rows are short (16
// outputs at 64 px), so outputs go in blocks of 8 lanes (GCC vector types: one register
// with AVX2, two with SSE), all taps per block, the last block overlapping the one before
// (each output is a function of the input alone, so recomputing is exact): a remainder
// loop over a short row would cost more than the vector work. A tap's 8 inputs are every
// other float: the even lanes of 16 loaded from the tap, or the odd lanes of 16 loaded one
// float before it where the tap is not the plane's first element (planes of 16 floats or
// more, which n >= 8 implies, so neither load leaves the plane).
constexpr int64_t kPoolBlock = 8;
typedef float F8 __attribute__((vector_size(32)));
typedef int32_t I8 __attribute__((vector_size(32)));

// Out-parameters rather than vector return values: the baseline build has no AVX, and a
// 32-byte vector returned by value there changes the calling convention (-Wpsabi).
CR_POOL_INLINE void every_other(const float* plane, int64_t at, F8& out) {
  F8 a, b;
  if (at >= 1) {
    std::memcpy(&a, plane + at - 1, sizeof a);
    std::memcpy(&b, plane + at + 7, sizeof b);
    out = __builtin_shuffle(a, b, I8{1, 3, 5, 7, 9, 11, 13, 15});
  } else {
    std::memcpy(&a, plane + at, sizeof a);
    std::memcpy(&b, plane + at + 8, sizeof b);
    out = __builtin_shuffle(a, b, I8{0, 2, 4, 6, 8, 10, 12, 14});
  }
}

// kVector: the 8 lanes as one vector per tap (AVX2 and up); without, GCC's lowering of the
// shuffles to SSE is slower than plain loads, so the baseline build runs the same blocks
// element by element.
template <bool kVector>
CR_POOL_INLINE void max3s2_row_body(const float* plane, int64_t W, int64_t h0, int64_t h1, int64_t ws, int64_t n,
                                    float* best) {
  if (n < kPoolBlock) {  // too short for a block: one output at a time, same rule
    for (int64_t i = 0; i < n; i++) {
      float bv = plane[h0 * W + ws + 2 * i];
      for (int64_t h = h0; h < h1; h++)
        for (int64_t kw = h == h0 ? 1 : 0; kw < 3; kw++) {
          const float v = plane[h * W + ws + 2 * i + kw];
          bv = v > bv ? v : bv;
        }
      best[i] = bv;
    }
    return;
  }
  for (int64_t i0 = 0; i0 < n; i0 += kPoolBlock) {
    const int64_t s = std::min(i0, n - kPoolBlock);
    if constexpr (kVector) {
      F8 bv, v;
      every_other(plane, h0 * W + ws + 2 * s, bv);
      for (int64_t h = h0; h < h1; h++)
        for (int64_t kw = h == h0 ? 1 : 0; kw < 3; kw++) {
          every_other(plane, h * W + ws + kw + 2 * s, v);
          bv = v > bv ? v : bv;  // lane-wise, as argmax(): strictly greater replaces
        }
      std::memcpy(best + s, &bv, sizeof bv);
    } else {
      float bv[kPoolBlock];
      const float* r0 = plane + h0 * W + ws + 2 * s;
      for (int64_t j = 0; j < kPoolBlock; j++) bv[j] = r0[2 * j];
      for (int64_t h = h0; h < h1; h++)
        for (int64_t kw = h == h0 ? 1 : 0; kw < 3; kw++) {
          const float* r = plane + h * W + ws + kw + 2 * s;
          for (int64_t j = 0; j < kPoolBlock; j++) bv[j] = r[2 * j] > bv[j] ? r[2 * j] : bv[j];
        }
      std::memcpy(best + s, bv, sizeof bv);
    }
  }
}

// The backward's blocks: the index in the plane of each output's first maximum, into at.
// Lanes as in max3s2_row_body<true>; the index follows the value through the same masks.
CR_POOL_INLINE void argmax3s2_row_body(const float* plane, int64_t W, int64_t h0, int64_t h1, int64_t ws, int64_t n,
                                       int32_t* at) {
  const I8 lane2 = {0, 2, 4, 6, 8, 10, 12, 14};
  for (int64_t i0 = 0; i0 < n; i0 += kPoolBlock) {
    const int64_t s = std::min(i0, n - kPoolBlock);
    F8 bv, v;
    const int64_t first = h0 * W + ws + 2 * s;
    every_other(plane, first, bv);
    I8 bi = static_cast<int32_t>(first) + lane2;
    for (int64_t h = h0; h < h1; h++)
      for (int64_t kw = h == h0 ? 1 : 0; kw < 3; kw++) {
        const int64_t tap = h * W + ws + kw + 2 * s;
        every_other(plane, tap, v);
        const I8 more = v > bv;
        bi = (bi & ~more) | ((static_cast<int32_t>(tap) + lane2) & more);
        bv = v > bv ? v : bv;
      }
    std::memcpy(at + s, &bi, sizeof bi);
  }
}

using Max3s2Row = void (*)(const float*, int64_t, int64_t, int64_t, int64_t, int64_t, float*);
using Argmax3s2Row = void (*)(const float*, int64_t, int64_t, int64_t, int64_t, int64_t, int32_t*);

#define CR_POOL_KERNEL(NAME, ATTR, VECTOR) \
  ATTR void NAME##_max3s2_row(const float* plane, int64_t W, int64_t h0, int64_t h1, int64_t ws, int64_t n, \
                              float* best) { \
    max3s2_row_body<VECTOR>(plane, W, h0, h1, ws, n, best); \
  }

CR_POOL_KERNEL(baseline, , false)
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CR_POOL_X86 1
CR_POOL_KERNEL(avx2, __attribute__((target("avx2"))), true)
CR_POOL_KERNEL(avx512, __attribute__((target("avx512f"))), true)
__attribute__((target("avx2"))) void avx2_argmax3s2_row(const float* plane, int64_t W, int64_t h0, int64_t h1,
                                                        int64_t ws, int64_t n, int32_t* at) {
  argmax3s2_row_body(plane, W, h0, h1, ws, n, at);
}
#endif

Max3s2Row max3s2_row() {
  static const Max3s2Row k = [] {
#ifdef CR_POOL_X86
    switch (cpu_vector_isa()) {
      case VectorIsa::Avx512: return avx512_max3s2_row;
      case VectorIsa::Avx2: return avx2_max3s2_row;
      case VectorIsa::Baseline: break;
    }
#endif
    return baseline_max3s2_row;
  }();
  return k;
}

// The backward's vector blocks where the CPU has AVX2 and the cap allows it, else none.
Argmax3s2Row argmax3s2_row() {
  static const Argmax3s2Row k = [] {
#ifdef CR_POOL_X86
    if (cpu_vector_isa() != VectorIsa::Baseline) return avx2_argmax3s2_row;  // AVX-512 CPUs have AVX2
#endif
    return static_cast<Argmax3s2Row>(nullptr);
  }();
  return k;
}

// The outputs [lo, hi) of a row whose 3-wide, stride-2 windows lie inside the plane; empty
// (lo == hi) where the fast path does not apply.
struct InteriorColumns {
  int64_t lo = 0, hi = 0;
  InteriorColumns(const Geometry& g, const Pool2dParams& p) {
    if (p.mode != PoolMode::Max || p.kernel_w != 3 || p.stride_w != 2 || g.H * g.W > INT32_MAX) return;
    if (g.W + p.pad_w < 3) return;                                   // no window fits inside the row
    lo = (p.pad_w + 1) / 2;                                          // the first ow with 2 ow - pad >= 0
    hi = std::min(g.Wo, std::max(lo, (g.W - 3 + p.pad_w) / 2 + 1));  // 2 ow - pad + 3 <= W below it
  }
};

}  // namespace

Tensor CpuBackend::pool2d_forward(const Tensor& x, const Pool2dParams& p) {
  Geometry g(x.shape, p);
  std::vector<float> hx;
  const float* xs = f32_view(x, hx);
  F32Result out(*this, {x.shape[0], x.shape[1], g.Ho, g.Wo}, x.dtype, x.layout);
  float* ys = out.data();
  const InteriorColumns fast(g, p);
  const Max3s2Row row = max3s2_row();
  parallel_for(g.NC, 4, [&](int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; nc++) {
      const float* plane = xs + nc * g.H * g.W;
      float* yp = ys + nc * g.Ho * g.Wo;
      for (int64_t oh = 0; oh < g.Ho; oh++)
        for (int64_t ow = 0; ow < g.Wo; ow++) {
          if (ow == fast.lo && fast.hi > fast.lo) {
            Window win(g, p, oh, ow);
            row(plane, g.W, win.h0, win.h1, win.w0, fast.hi - fast.lo, yp + oh * g.Wo + ow);
            ow = fast.hi - 1;
            continue;
          }
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
  // Accumulated in double per plane: overlapping windows add several contributions, in the
  // same order (outputs row-major) on the vector path as on the scalar one.
  const InteriorColumns fast(g, p);
  const Argmax3s2Row row = fast.hi - fast.lo >= kPoolBlock ? argmax3s2_row() : nullptr;
  parallel_for(g.NC, 4, [&](int64_t b, int64_t e) {
    std::vector<double> acc(static_cast<size_t>(g.H * g.W));
    std::vector<int32_t> at(static_cast<size_t>(fast.hi - fast.lo));
    for (int64_t nc = b; nc < e; nc++) {
      std::fill(acc.begin(), acc.end(), 0.0);
      const float* grad = gs + nc * g.Ho * g.Wo;
      for (int64_t oh = 0; oh < g.Ho; oh++)
        for (int64_t ow = 0; ow < g.Wo; ow++) {
          if (row && ow == fast.lo) {
            Window win(g, p, oh, ow);
            const int64_t n = fast.hi - fast.lo;
            row(xs + nc * g.H * g.W, g.W, win.h0, win.h1, win.w0, n, at.data());
            const float* gr = grad + oh * g.Wo + ow;
            for (int64_t i = 0; i < n; i++) acc[at[i]] += gr[i];
            ow = fast.hi - 1;
            continue;
          }
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
