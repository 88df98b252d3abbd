// The direct weight gradient declared in conv_filter.h on AVX-512 (its AVX2 + FMA twin is
// conv_filter_avx2.cpp), as outer products whose vectors run over 16 filters (output
// channels k): per pixel, one or two vectors of dy (16 or 32 filters, from a channels-last
// copy) times each of the 9 taps of one or two input channels, read as broadcasts from a
// zero-bordered copy of x, into 18 accumulators. The sum over a group of images' pixels stays
// in those registers; nothing is unfolded. A kernel with the pixels in the vectors instead
// (dy times x shifted by each tap, masked at the borders) measured no faster than the GEMM:
// one unaligned, masked vector load per 3 multiply-adds held it back.
#include "conv_filter.h"

#include <algorithm>
#include <cstring>

#include "conv_direct.h"
#include "conv_filter_avx2.h"
#include "simd_transpose.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CR_FILTER_X86 1
#include <immintrin.h>
#endif

namespace cr::cpu_conv {

namespace {

constexpr int64_t kLanes = kFilterSumLanes;  // filters per vector
// Bytes of copied x and dy a group of images may span (every pass over a block of filters
// and input channels rereads the group), about half of a core's L2.
constexpr int64_t kGroupBytes = 256 * 1024;

int64_t lanes_of(int64_t K) { return filter_sum_width(K); }

#ifdef CR_FILTER_X86

// The copies one group works on (conv_filter_avx2.h): dy channels-last [images][H * W][Kp]
// (filters past K zero; each pixel's vectors on a 64-byte boundary, so none straddles two
// cache lines) and x with a one-pixel zero border.
void copy_group(const float* dy, const float* x, int64_t images, int64_t C, int64_t K, int64_t H, int64_t W, float* dyt,
                float* xp) {
  const int64_t HW = H * W, Kp = lanes_of(K), plane = (H + 2) * (W + 2);
  for (int64_t n = 0; n < images; n++) {
    transpose_matrix16(dy + n * K * HW, K, HW, HW, dyt + n * HW * Kp, Kp, Kp);  // filters past K zero
    pad_image(x + n * C * HW, C, H, W, xp + n * C * plane);
  }
}

// dwt[(c0 + i) * 9 + t, k0 + l] += the group's sum of dy[k0 + l] * x[c0 + i] shifted by tap t,
// for i < CB and all 16 lanes l (rows of dwt Kp floats apart).
template <int CB, int KV>
__attribute__((target("avx512f"))) void filter_tile(const float* dyt, int64_t Kp, const float* xp, int64_t x_image,
                                                    int64_t plane, int64_t images, int64_t H, int64_t W, float* dwt) {
  __m512 acc[CB * 9 * KV];
  for (int i = 0; i < CB * 9 * KV; i++) acc[i] = _mm512_setzero_ps();
  const int64_t Wp = W + 2;
  for (int64_t n = 0; n < images; n++)
    for (int64_t h = 0; h < H; h++) {
      const float* xr = xp + n * x_image + h * Wp;
      const float* d = dyt + (n * H + h) * W * Kp;
      for (int64_t w = 0; w < W; w++, xr++, d += Kp) {
        __m512 dv[KV];
        for (int v = 0; v < KV; v++) dv[v] = _mm512_load_ps(d + v * kLanes);
#pragma GCC unroll 32
        for (int i = 0; i < CB * 9; i++) {
          const int c = i / 9, r = i % 9 / 3, s = i % 3;
          const __m512 xv = _mm512_set1_ps(xr[c * plane + r * Wp + s]);
          for (int v = 0; v < KV; v++) acc[i * KV + v] = _mm512_fmadd_ps(xv, dv[v], acc[i * KV + v]);
        }
      }
    }
#pragma GCC unroll 32
  for (int i = 0; i < CB * 9; i++)
    for (int v = 0; v < KV; v++) {
      float* at = dwt + i * Kp + v * kLanes;
      _mm512_storeu_ps(at, _mm512_add_ps(_mm512_loadu_ps(at), acc[i * KV + v]));
    }
}
#endif

}  // namespace

namespace {

enum class FilterKernel { Portable, Avx512, Avx2 };

// The direct kernel's choice (which follows the GEMM's cap and CUDNN_RESNET_CPU_CONV).
FilterKernel filter_kernel() {
  static const FilterKernel k = [] {
    const char* direct = direct3x3_kernel_name();
#ifdef CR_FILTER_X86
    if (std::strcmp(direct, "avx512") == 0) return FilterKernel::Avx512;
    if (std::strcmp(direct, "avx2-fma") == 0) return FilterKernel::Avx2;
#endif
    (void)direct;
    return FilterKernel::Portable;
  }();
  return k;
}

}  // namespace

bool filter3x3_applies(const ConvGeom& g) { return direct3x3_applies(g) && filter_kernel() != FilterKernel::Portable; }

int64_t filter3x3_group(const ConvGeom& g) {
  const int64_t image_bytes = (g.C * (g.H + 2) * (g.W + 2) + lanes_of(g.K) * g.H * g.W) * 4;
  return std::clamp<int64_t>(kGroupBytes / image_bytes, 1, g.N);
}

int64_t filter3x3_sum_floats(int64_t C, int64_t K) { return C * 9 * lanes_of(K); }

int64_t filter3x3_copy_floats(const ConvGeom& g, int64_t images) {
  return filter_x_copy_offset(images, g.K, g.H, g.W) + images * g.C * (g.H + 2) * (g.W + 2);
}

void filter3x3_images(const float* dy, const float* x, int64_t images, int64_t C, int64_t K, int64_t H, int64_t W,
                      float* copy_floats, float* sum) {
  const int64_t Kp = lanes_of(K);
#ifdef CR_FILTER_X86
  if (filter_kernel() == FilterKernel::Avx2) return filter3x3_images_avx2(dy, x, images, C, K, H, W, copy_floats, sum);
  float *dyt = copy_floats, *xp = copy_floats + filter_x_copy_offset(images, K, H, W);
  copy_group(dy, x, images, C, K, H, W, dyt, xp);
  const int64_t plane = (H + 2) * (W + 2);
  // Tiles of 18 accumulators: GCC spilled tiles of 27 (3 channels x 9 taps) to the stack.
  // Two filter vectors per broadcast where there are 32 filters left, else two channels.
  for (int64_t k0 = 0; k0 < Kp;) {
    const bool wide = Kp - k0 >= 2 * kLanes;
    const float* dk = dyt + k0;
    for (int64_t c = 0; c < C;) {
      const float* xc = xp + c * plane;
      float* out = sum + c * 9 * Kp + k0;
      if (wide) {
        filter_tile<1, 2>(dk, Kp, xc, C * plane, plane, images, H, W, out);
        c += 1;
      } else if (C - c >= 2) {
        filter_tile<2, 1>(dk, Kp, xc, C * plane, plane, images, H, W, out);
        c += 2;
      } else {
        filter_tile<1, 1>(dk, Kp, xc, C * plane, plane, images, H, W, out);
        c += 1;
      }
    }
    k0 += wide ? 2 * kLanes : kLanes;
  }
#else
  (void)copy_floats;
  const int64_t HW = H * W;
  for (int64_t n = 0; n < images; n++)
    for (int64_t k = 0; k < K; k++)
      for (int64_t c = 0; c < C; c++)
        for (int64_t t = 0; t < 9; t++) {
          const float* dyk = dy + (n * K + k) * HW;
          const float* xc = x + (n * C + c) * HW;
          float acc = 0.f;
          for (int64_t h = 0; h < H; h++)
            for (int64_t w = 0; w < W; w++) {
              const int64_t ih = h + t / 3 - 1, iw = w + t % 3 - 1;
              if (ih >= 0 && ih < H && iw >= 0 && iw < W) acc += dyk[h * W + w] * xc[ih * W + iw];
            }
          sum[(c * 9 + t) * Kp + k] += acc;
        }
#endif
}

void filter3x3_finish(const float* sum, int64_t C, int64_t K, float* dw) {
  const int64_t Kp = lanes_of(K), CT = C * 9;
#ifdef CR_FILTER_X86
  if (filter_kernel() == FilterKernel::Avx512) return transpose_matrix16(sum, CT, K, Kp, dw, CT, CT);
#endif
  for (int64_t k = 0; k < K; k++)
    for (int64_t ct = 0; ct < CT; ct++) dw[k * CT + ct] = sum[ct * Kp + k];
}

}  // namespace cr::cpu_conv
