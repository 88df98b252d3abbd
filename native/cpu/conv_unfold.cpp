// im2col/col2im for the CPU convolution (declared in conv_unfold.h), separate from conv.cpp's
// scheduling because the index arithmetic of padding, stride and dilation is its own concern,
// and the fast same-width path and the general row path must be kept in step with each other.
#include "conv_unfold.h"

#include <algorithm>
#include <cstring>

#include "gemm.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CR_UNFOLD_X86 1
#include <immintrin.h>
#endif

namespace cr::cpu_conv {

namespace {

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

// dst[q] = src[2 q] for q < n: the rows of stride-2 layers (ResNet stems), where the plain loop
// took about 30% of the 7x7 stem's forward time. 16 outputs per two loads and a permute; the last
// vector stops short of src[2 n - 1], which the row may not own.
#ifdef CR_UNFOLD_X86
__attribute__((target("avx512f"))) void copy_stride2_avx512(const float* src, float* dst, int64_t n) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  int64_t q = 0;
  for (; q + 16 < n; q += 16) {
    const __m512 lo = _mm512_loadu_ps(src + 2 * q), hi = _mm512_loadu_ps(src + 2 * q + 16);
    _mm512_storeu_ps(dst + q, _mm512_permutex2var_ps(lo, even, hi));
  }
  for (; q < n; q++) dst[q] = src[2 * q];
}
#endif

void copy_stride2(const float* src, float* dst, int64_t n) {
#ifdef CR_UNFOLD_X86
  // Where the AVX-512 GEMM kernel was chosen (CUDNN_RESNET_CPU_GEMM caps both).
  static const bool avx512 = std::strcmp(gemm_kernel_name(), "avx512") == 0;
  if (avx512) {
    copy_stride2_avx512(src, dst, n);
    return;
  }
#endif
  for (int64_t q = 0; q < n; q++) dst[q] = src[2 * q];
}

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

}  // namespace

void im2col(const ConvGeom& g, const float* x, int64_t oh0, int64_t oh1, float* col, int64_t ld) {
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
    } else if (sw == 2) {
      copy_stride2(src + q0 * 2, dst + q0, q1 - q0);
    } else {
      for (int64_t q = q0; q < q1; q++) dst[q] = src[q * sw];
    }
    for (int64_t q = q1; q < g.Q; q++) dst[q] = 0.f;
  });
}

void col2im(const ConvGeom& g, float* col, int64_t oh0, int64_t oh1, float* dx, int64_t ld) {
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

void pad_image(const float* x, int64_t C, int64_t H, int64_t W, float* xp) {
  const int64_t Wp = W + 2;
  for (int64_t c = 0; c < C; c++, x += H * W, xp += (H + 2) * Wp) {
    std::fill(xp, xp + Wp + 1, 0.f);
    for (int64_t h = 0; h < H; h++) {
      float* row = xp + (h + 1) * Wp + 1;
      std::copy(x + h * W, x + (h + 1) * W, row);
      row[W] = row[W + 1] = 0.f;  // this row's right border, the next row's left
    }
    std::fill(xp + (H + 1) * Wp + 1, xp + (H + 2) * Wp, 0.f);
  }
}

}  // namespace cr::cpu_conv
