// 2-D convolution (cross-correlation, as cuDNN and PyTorch) on the CPU as im2col + GEMM.
// Per image n and band of output rows b, with col[C*R*S, |b|] the unfolded input:
//   forward          y_n[K, b]    = w[K, CRS] . col
//   backward data    dcol[CRS, b] = w^T . dy_n[K, b],  then folded back (col2im) into dx_n
//   backward filter  dw[K, CRS]  += dy_n[K, b] . col^T
// Threads take whole images, each with its own band-sized column buffer, so memory stays
// at a few hundred KiB per thread whatever the batch. Images are handed out one at a time
// from a shared counter, so a thread slowed by a busy core simply takes fewer. With a
// single image the loop runs inline and the GEMM splits itself across the threads instead.
// All arithmetic is fp32; other dtypes and NHWC are converted on the way in and out.
#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>

#include "../core/errors.h"
#include "cpu_backend.h"
#include "gemm.h"
#include "parallel.h"

namespace cr {

namespace {

struct ConvGeom {
  int64_t N, C, H, W, K, R, S, P, Q;
  Conv2dParams p;
  int64_t band = 1;  // output rows unfolded at a time
  int64_t crs() const { return C * R * S; }
  int64_t pq() const { return P * Q; }
  int64_t chw() const { return C * H * W; }
  // A 1x1, stride-1, unpadded convolution's column matrix is the image itself.
  bool direct() const { return R == 1 && S == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_h == 0 && p.pad_w == 0; }
  // Floats of the column buffer one thread needs.
  int64_t col_floats() const { return direct() ? 0 : crs() * std::min(band, P) * Q; }
};

// Unfolding a band of output rows at a time, sized so the band's columns (~256 KiB) and
// the GEMM's packed copy of them both stay in a core's L2: unfolding a whole image at once
// (590 KiB for a 16-channel 32x32 layer) made every pass stream through L3.
constexpr int64_t kBandFloats = 64 * 1024;
// Images with fewer output pixels than kSmallImage go to the GEMMs several at a time, their
// columns side by side, about kBatchColumns in all (backward filter; forward and backward
// data when unfolded). One 2x2 image of a 512-channel layer
// gives a GEMM 4 deep that reads and writes all of dw (2.4 M floats) for 4 multiply-adds
// per element; 32 images at once read and write it once.
constexpr int64_t kSmallImage = 64;
constexpr int64_t kBatchColumns = 128;

ConvGeom geometry(const char* op, const Shape& x, const Shape& w, const Conv2dParams& p) {
  ConvGeom g{x[0], x[1], x[2], x[3], w[0], w[2], w[3], 0, 0, p};
  g.P = conv_out_size(g.H, g.R, p.stride_h, p.pad_h, p.dilation_h);
  g.Q = conv_out_size(g.W, g.S, p.stride_w, p.pad_w, p.dilation_w);
  if (g.P < 1 || g.Q < 1) throw_runtime(op, "empty output for x " + shape_str(x) + " and w " + shape_str(w));
  // Refuse column buffers that could not be allocated anyway (and products that overflow).
  if (static_cast<double>(g.crs()) * static_cast<double>(g.Q) > static_cast<double>(kMaxElements))
    throw OpError(ErrorKind::OutOfMemory,
                  std::string(op) + ": one unfolded output row (" + std::to_string(g.crs()) + " x " +
                      std::to_string(g.Q) + " floats) is too large",
                  "ERR_CPU_OOM");
  g.band = g.direct() ? g.P : std::max<int64_t>(1, kBandFloats / (g.crs() * g.Q));
  return g;
}

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Calls row(k, c, i, ih, q0, q1, off) for every column-matrix row k = (c, r, s) and output
// row oh = oh0 + i in [oh0, oh1): output columns q in [q0, q1) read input column
// q * stride_w + off of input row ih (ih outside [0, H) is padding, as are the other q).
template <typename F>
void for_each_col_row(const ConvGeom& g, int64_t oh0, int64_t oh1, F&& row) {
  const auto& p = g.p;
  for (int64_t r = 0; r < g.R; r++)
    for (int64_t s = 0; s < g.S; s++) {
      const int64_t off_h = r * p.dilation_h - p.pad_h, off_w = s * p.dilation_w - p.pad_w;
      // Valid q: 0 <= q * stride_w + off_w < W.
      int64_t q0 = off_w >= 0 ? 0 : ceil_div(-off_w, p.stride_w);
      int64_t q1 = g.W - off_w <= 0 ? 0 : std::min(g.Q, ceil_div(g.W - off_w, p.stride_w));
      q0 = std::min(q0, q1);
      for (int64_t c = 0; c < g.C; c++) {
        const int64_t k = (c * g.R + r) * g.S + s;
        for (int64_t oh = oh0; oh < oh1; oh++) row(k, c, oh - oh0, oh * p.stride_h + off_h, q0, q1, off_w);
      }
    }
}

// Stride-1 convolutions that keep the width (3x3 with padding 1, ...) map a band of output
// rows for one (c, r, s) onto one contiguous run of input plane c, shifted by the tap's
// offset: element j of the band reads plane[start + j]. So the band is one long copy (or
// add) plus zeros at the few columns that fall into the padding; those columns read (or
// add into) the neighbouring row's edge, which the zeros then override (or neutralize).
bool same_width_stride1(const ConvGeom& g) { return g.p.stride_h == 1 && g.p.stride_w == 1 && g.Q == g.W; }

// Calls band(k, c, i_lo, i_hi, start, q0, q1) for every column-matrix row k = (c, r, s) of a
// band of output rows [oh0, oh1) of a same_width_stride1 convolution: band rows [i_lo, i_hi)
// read input rows inside the image, starting at plane offset `start` (which may lie outside
// the plane when the first or last row's border columns do); columns [q0, q1) are valid.
template <typename F>
void for_each_col_band(const ConvGeom& g, int64_t oh0, int64_t oh1, F&& band) {
  const int64_t rows = oh1 - oh0;
  for (int64_t r = 0; r < g.R; r++)
    for (int64_t s = 0; s < g.S; s++) {
      const int64_t off_h = r * g.p.dilation_h - g.p.pad_h, off_w = s * g.p.dilation_w - g.p.pad_w;
      const int64_t q0 = std::clamp<int64_t>(-off_w, 0, g.Q), q1 = std::clamp<int64_t>(g.W - off_w, q0, g.Q);
      const int64_t i_lo = std::clamp<int64_t>(-off_h - oh0, 0, rows);
      const int64_t i_hi = std::clamp<int64_t>(g.H - off_h - oh0, i_lo, rows);
      const int64_t start = (oh0 + i_lo + off_h) * g.W + off_w;
      for (int64_t c = 0; c < g.C; c++) band((c * g.R + r) * g.S + s, c, i_lo, i_hi, start, q0, q1);
    }
}

// x: one image [C, H, W] -> col [CRS, (oh1 - oh0) * Q] for output rows [oh0, oh1), rows of
// col ld floats apart (default: packed, ld = (oh1 - oh0) * Q).
void im2col(const ConvGeom& g, const float* x, int64_t oh0, int64_t oh1, float* col, int64_t ld = 0) {
  const int64_t band = (oh1 - oh0) * g.Q, plane = g.H * g.W;
  if (ld == 0) ld = band;
  if (same_width_stride1(g)) {
    for_each_col_band(g, oh0, oh1,
                      [&](int64_t k, int64_t c, int64_t i_lo, int64_t i_hi, int64_t start, int64_t q0, int64_t q1) {
                        float* dst = col + k * ld;
                        const float* src = x + c * plane;  // read at start + j, inside the plane for j in [a, b)
                        const int64_t len = (i_hi - i_lo) * g.Q, a = std::clamp<int64_t>(-start, 0, len);
                        const int64_t b = std::clamp<int64_t>(plane - start, a, len);
                        std::fill(dst, dst + i_lo * g.Q + a, 0.f);
                        for (int64_t j = a; j < b; j++) dst[i_lo * g.Q + j] = src[start + j];
                        std::fill(dst + i_lo * g.Q + b, dst + band, 0.f);
                        for (int64_t i = i_lo; i < i_hi; i++) {
                          for (int64_t q = 0; q < q0; q++) dst[i * g.Q + q] = 0.f;
                          for (int64_t q = q1; q < g.Q; q++) dst[i * g.Q + q] = 0.f;
                        }
                      });
    return;
  }
  const int64_t sw = g.p.stride_w;
  for_each_col_row(g, oh0, oh1, [&](int64_t k, int64_t c, int64_t i, int64_t ih, int64_t q0, int64_t q1, int64_t off) {
    float* dst = col + k * ld + i * g.Q;
    if (ih < 0 || ih >= g.H) {
      std::fill(dst, dst + g.Q, 0.f);
      return;
    }
    const float* src = x + (c * g.H + ih) * g.W + off;
    // Plain loops rather than memcpy/memset: rows are short (tens of floats), where the
    // library calls cost more than the copy.
    for (int64_t q = 0; q < q0; q++) dst[q] = 0.f;
    if (sw == 1) {
      for (int64_t q = q0; q < q1; q++) dst[q] = src[q];
    } else {
      for (int64_t q = q0; q < q1; q++) dst[q] = src[q * sw];
    }
    for (int64_t q = q1; q < g.Q; q++) dst[q] = 0.f;
  });
}

// col [CRS, (oh1 - oh0) * Q] (rows ld floats apart, default packed) -> dx: one image
// [C, H, W], accumulated (windows overlap). Clobbers the padding columns of col.
void col2im(const ConvGeom& g, float* col, int64_t oh0, int64_t oh1, float* dx, int64_t ld = 0) {
  const int64_t plane = g.H * g.W;
  if (ld == 0) ld = (oh1 - oh0) * g.Q;
  if (same_width_stride1(g)) {
    for_each_col_band(g, oh0, oh1,
                      [&](int64_t k, int64_t c, int64_t i_lo, int64_t i_hi, int64_t start, int64_t q0, int64_t q1) {
                        float* src = col + k * ld;
                        for (int64_t i = i_lo; i < i_hi; i++) {
                          for (int64_t q = 0; q < q0; q++) src[i * g.Q + q] = 0.f;
                          for (int64_t q = q1; q < g.Q; q++) src[i * g.Q + q] = 0.f;
                        }
                        float* dst = dx + c * plane;  // written at start + j, inside the plane for j in [a, b)
                        const int64_t len = (i_hi - i_lo) * g.Q, a = std::clamp<int64_t>(-start, 0, len);
                        const int64_t b = std::clamp<int64_t>(plane - start, a, len);
                        for (int64_t j = a; j < b; j++) dst[start + j] += src[i_lo * g.Q + j];
                      });
    return;
  }
  const int64_t sw = g.p.stride_w;
  for_each_col_row(g, oh0, oh1, [&](int64_t k, int64_t c, int64_t i, int64_t ih, int64_t q0, int64_t q1, int64_t off) {
    if (ih < 0 || ih >= g.H) return;
    const float* src = col + k * ld + i * g.Q;
    float* dst = dx + (c * g.H + ih) * g.W + off;
    if (sw == 1) {
      for (int64_t q = q0; q < q1; q++) dst[q] += src[q];
    } else {
      for (int64_t q = q0; q < q1; q++) dst[q * sw] += src[q];
    }
  });
}

// Runs body(n, scratch) for every image n on up to cpu_threads() workers that pull images
// from a shared counter; each worker first makes its scratch with make() and hands it to
// done() at the end (under a lock, for merging partial results).
template <typename Make, typename Body, typename Done>
void over_images(int64_t N, Make&& make, Body&& body, Done&& done) {
  std::atomic<int64_t> next{0};
  std::mutex m;
  parallel_for(std::min<int64_t>(cpu_threads(), N), 1, [&](int64_t w0, int64_t w1) {
    for (int64_t w = w0; w < w1; w++) {
      auto scratch = make();
      for (int64_t n = next.fetch_add(1); n < N; n = next.fetch_add(1)) body(n, scratch);
      std::lock_guard<std::mutex> lock(m);
      done(scratch);
    }
  });
}

// An uninitialized float buffer (every element is written before it is read).
std::unique_ptr<float[]> scratch_floats(int64_t n) { return std::unique_ptr<float[]>(new float[n > 0 ? n : 1]); }

// Forward and backward data take small images (unfolded, not direct) several per GEMM too:
// per image, a 2x2 output makes a GEMM 4 columns wide that packs all of w for 4 columns.
int64_t images_per_gemm(const ConvGeom& g) {
  return g.direct() || g.pq() >= kSmallImage ? 1 : std::clamp<int64_t>(kBatchColumns / g.pq(), 1, g.N);
}

struct GroupScratch {
  std::unique_ptr<float[]> col, mat;  // unfolded columns [CRS, ld]; GEMM result or operand [K, ld]
};

}  // namespace

Tensor CpuBackend::conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, const Conv2dParams& p) {
  const ConvGeom g = geometry("conv2dForward", x.shape, w.shape, p);
  std::vector<float> hx, hw, hb;
  const float* xs = f32_view(x, hx);
  const float* ws = f32_view(w, hw);
  const float* bs = bias ? f32_view(*bias, hb) : nullptr;
  F32Result out(*this, {g.N, g.K, g.P, g.Q}, x.dtype, x.layout);
  float* y = out.data();
  const int64_t crs = g.crs(), pq = g.pq();
  if (const int64_t per = images_per_gemm(g); per > 1) {
    over_images((g.N + per - 1) / per,
                [&] {
                  return GroupScratch{scratch_floats(crs * per * pq), scratch_floats(g.K * per * pq)};
                },
                [&](int64_t gi, GroupScratch& s) {
                  const int64_t n0 = gi * per, cnt = std::min(per, g.N - n0), ld = cnt * pq;
                  for (int64_t j = 0; j < cnt; j++)
                    im2col(g, xs + (n0 + j) * g.chw(), 0, g.P, s.col.get() + j * pq, ld);
                  sgemm(g.K, ld, crs, 1.f, ws, crs, 1, s.col.get(), ld, 1, 0.f, s.mat.get(), ld, 1);
                  for (int64_t j = 0; j < cnt; j++)
                    for (int64_t k = 0; k < g.K; k++) {
                      const float* src = s.mat.get() + k * ld + j * pq;
                      float* dst = y + ((n0 + j) * g.K + k) * pq;
                      const float b = bs ? bs[k] : 0.f;
                      for (int64_t q = 0; q < pq; q++) dst[q] = bs ? src[q] + b : src[q];
                    }
                },
                [](GroupScratch&) {});
    return out.finish();
  }
  over_images(
      g.N, [&] { return scratch_floats(g.col_floats()); },
      [&](int64_t n, std::unique_ptr<float[]>& col) {
        float* yn = y + n * g.K * pq;
        if (bs)
          for (int64_t k = 0; k < g.K; k++) std::fill(yn + k * pq, yn + (k + 1) * pq, bs[k]);
        for (int64_t oh0 = 0; oh0 < g.P; oh0 += g.band) {
          const int64_t oh1 = std::min(g.P, oh0 + g.band), cols = (oh1 - oh0) * g.Q;
          const float* src = xs + n * g.chw();  // direct: the band is the whole image
          if (!g.direct()) {
            im2col(g, src, oh0, oh1, col.get());
            src = col.get();
          }
          sgemm(g.K, cols, crs, 1.f, ws, crs, 1, src, cols, 1, bs ? 1.f : 0.f, yn + oh0 * g.Q, pq, 1);
        }
      },
      [](std::unique_ptr<float[]>&) {});
  return out.finish();
}

Tensor CpuBackend::conv2d_backward_data(const Tensor& dy, const Tensor& w, const Shape& x_shape,
                                        const Conv2dParams& p) {
  const ConvGeom g = geometry("conv2dBackwardData", x_shape, w.shape, p);
  std::vector<float> hdy, hw;
  const float* dys = f32_view(dy, hdy);
  const float* ws = f32_view(w, hw);
  F32Result out(*this, x_shape, dy.dtype, dy.layout);
  float* dx = out.data();
  const int64_t crs = g.crs(), pq = g.pq();
  if (const int64_t per = images_per_gemm(g); per > 1) {
    over_images((g.N + per - 1) / per,
                [&] {
                  return GroupScratch{scratch_floats(crs * per * pq), scratch_floats(g.K * per * pq)};
                },
                [&](int64_t gi, GroupScratch& s) {
                  const int64_t n0 = gi * per, cnt = std::min(per, g.N - n0), ld = cnt * pq;
                  for (int64_t j = 0; j < cnt; j++)
                    for (int64_t k = 0; k < g.K; k++) {
                      const float* src = dys + ((n0 + j) * g.K + k) * pq;
                      std::copy(src, src + pq, s.mat.get() + k * ld + j * pq);
                    }
                  sgemm(crs, ld, g.K, 1.f, ws, 1, crs, s.mat.get(), ld, 1, 0.f, s.col.get(), ld, 1);
                  for (int64_t j = 0; j < cnt; j++) {
                    float* dxn = dx + (n0 + j) * g.chw();
                    std::fill(dxn, dxn + g.chw(), 0.f);
                    col2im(g, s.col.get() + j * pq, 0, g.P, dxn, ld);
                  }
                },
                [](GroupScratch&) {});
    return out.finish();
  }
  over_images(
      g.N, [&] { return scratch_floats(g.col_floats()); },
      [&](int64_t n, std::unique_ptr<float[]>& dcol) {
        float* dxn = dx + n * g.chw();
        const float* dyn = dys + n * g.K * pq;
        if (g.direct()) {
          sgemm(crs, pq, g.K, 1.f, ws, 1, crs, dyn, pq, 1, 0.f, dxn, pq, 1);
          return;
        }
        std::fill(dxn, dxn + g.chw(), 0.f);
        for (int64_t oh0 = 0; oh0 < g.P; oh0 += g.band) {
          const int64_t oh1 = std::min(g.P, oh0 + g.band), cols = (oh1 - oh0) * g.Q;
          // dcol = w^T . dy_n[:, band]: w read as [CRS, K] through swapped strides.
          sgemm(crs, cols, g.K, 1.f, ws, 1, crs, dyn + oh0 * g.Q, pq, 1, 0.f, dcol.get(), cols, 1);
          col2im(g, dcol.get(), oh0, oh1, dxn);
        }
      },
      [](std::unique_ptr<float[]>&) {});
  return out.finish();
}

Tensor CpuBackend::conv2d_backward_filter(const Tensor& dy, const Tensor& x, const Shape& w_shape,
                                          const Conv2dParams& p) {
  const ConvGeom g = geometry("conv2dBackwardFilter", x.shape, w_shape, p);
  std::vector<float> hdy, hx;
  const float* dys = f32_view(dy, hdy);
  const float* xs = f32_view(x, hx);
  F32Result out(*this, w_shape, x.dtype, x.layout);
  float* dw = out.data();
  const int64_t crs = g.crs(), pq = g.pq(), kcrs = g.K * crs;
  std::fill(dw, dw + kcrs, 0.f);
  // A fixed split of the images into kFilterRuns contiguous runs, each summed into a
  // private dw, then the runs added in order: the same sum on every call and at every
  // thread count (dynamic image scheduling made training runs differ in the last bits).
  // Which worker sums which run does not matter, so runs are handed out from a shared
  // counter: with more runs than workers, a worker slowed by a busy core takes fewer
  // instead of keeping the other waiting at the end.
  constexpr int64_t kFilterRuns = 8;
  const int64_t per = pq >= kSmallImage ? 1 : std::clamp<int64_t>(kBatchColumns / pq, 1, g.N);
  const int64_t runs = std::min<int64_t>(kFilterRuns, (g.N + per - 1) / per);
  std::vector<std::vector<float>> parts(static_cast<size_t>(runs));
  std::atomic<int64_t> next{0};
  parallel_for(std::min<int64_t>(cpu_threads(), runs), 1, [&](int64_t, int64_t) {
    std::unique_ptr<float[]> col = scratch_floats(per > 1 ? crs * per * pq : g.col_floats());
    std::unique_ptr<float[]> dyb = scratch_floats(per > 1 ? g.K * per * pq : 0);
    for (int64_t r = next.fetch_add(1); r < runs; r = next.fetch_add(1)) {
      std::vector<float>& part = parts[static_cast<size_t>(r)];
      part.assign(static_cast<size_t>(kcrs), 0.f);
      const int64_t n_end = (r + 1) * g.N / runs;
      if (per > 1) {  // small images: whole images, several per GEMM
        for (int64_t n0 = r * g.N / runs; n0 < n_end; n0 += per) {
          const int64_t cnt = std::min(per, n_end - n0), ld = cnt * pq;
          for (int64_t j = 0; j < cnt; j++) {
            const float* xn = xs + (n0 + j) * g.chw();
            if (g.direct()) {
              for (int64_t c = 0; c < g.C; c++) std::copy(xn + c * pq, xn + (c + 1) * pq, col.get() + c * ld + j * pq);
            } else {
              im2col(g, xn, 0, g.P, col.get() + j * pq, ld);
            }
            for (int64_t k = 0; k < g.K; k++) {
              const float* src = dys + ((n0 + j) * g.K + k) * pq;
              std::copy(src, src + pq, dyb.get() + k * ld + j * pq);
            }
          }
          sgemm(g.K, crs, ld, 1.f, dyb.get(), ld, 1, col.get(), 1, ld, 1.f, part.data(), crs, 1);
        }
        continue;
      }
      for (int64_t n = r * g.N / runs; n < n_end; n++) {
        for (int64_t oh0 = 0; oh0 < g.P; oh0 += g.band) {
          const int64_t oh1 = std::min(g.P, oh0 + g.band), cols = (oh1 - oh0) * g.Q;
          const float* src = xs + n * g.chw();
          if (!g.direct()) {
            im2col(g, src, oh0, oh1, col.get());
            src = col.get();
          }
          // part += dy_n[:, band] . col^T: col read as [cols, CRS] through swapped strides.
          sgemm(g.K, crs, cols, 1.f, dys + n * g.K * pq + oh0 * g.Q, pq, 1, src, 1, cols, 1.f, part.data(), crs, 1);
        }
      }
    }
  });
  for (const std::vector<float>& part : parts)
    for (int64_t i = 0; i < kcrs; i++) dw[i] += part[static_cast<size_t>(i)];
  return out.finish();
}

Tensor CpuBackend::conv2d_backward_bias(const Tensor& dy) {
  std::vector<float> hdy;
  const float* dys = f32_view(dy, hdy);
  const int64_t N = dy.shape[0], K = dy.shape[1], pq = dy.shape[2] * dy.shape[3];
  Tensor db = empty({K}, DType::F32, Layout::NCHW);
  float* out = db.data<float>();
  parallel_for(K, 1, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; k++) {
      double s = 0;  // N * P * Q terms: fp32 partial sums per image, summed in double
      for (int64_t n = 0; n < N; n++) {
        const float* row = dys + (n * K + k) * pq;
        float part = 0.f;
        for (int64_t i = 0; i < pq; i++) part += row[i];
        s += part;
      }
      out[k] = static_cast<float>(s);
    }
  });
  return db;
}

}  // namespace cr
