// The direct 3x3 weight gradient on CPUs with AVX2 and FMA but no AVX-512 (conv_filter.h):
// the AVX-512 kernel's outer products with 8 filters per vector. Each accumulator still sums
// one (filter, channel, tap) over the group's images and pixels in order, one FMA at a time,
// from zero, and is then added to `sum`: the same operations in the same order as the
// AVX-512 kernel, so both give the same bits. Only the tiles differ: 16 ymm registers hold
// 12 accumulators (16 filters x 2 channels x 1 row of taps, or 16 filters x 1 channel x 2
// rows), two dy vectors and a broadcast x. Per pixel that is 2 dy loads and 6 broadcasts per
// 12 FMAs; 9 taps x 8 filters (one dy load and 9 broadcasts per 9 FMAs) measured 8-22%
// slower, 3 taps x 32 filters (4 dy vectors held) no faster.
#include <algorithm>

#include "conv_filter_avx2.h"
#include "conv_unfold.h"
#include "simd_transpose.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

namespace cr::cpu_conv {

namespace {

constexpr int64_t kLanes8 = 8;  // filters per vector

int64_t round8(int64_t K) { return (K + kLanes8 - 1) / kLanes8 * kLanes8; }

// out[(c * 9 + r * 3 + s) * ld_sum + v * 8 + l] += the group's sum of dy[filter v * 8 + l] *
// x[channel c] shifted by tap (r, s), for c < CB, rows r0 <= r < r0 + RB, v < KV; xp points at
// the first channel's padded plane, dyt and out at the first filter.
template <int CB, int RB, int KV>
__attribute__((target("avx2,fma"))) void filter_tile(const float* dyt, int64_t ld, const float* xp, int64_t x_image,
                                                     int64_t plane, int64_t images, int64_t H, int64_t W, int r0,
                                                     float* out, int64_t ld_sum) {
  constexpr int kTaps = CB * RB * 3;
  __m256 acc[kTaps * KV];
  for (int i = 0; i < kTaps * KV; i++) acc[i] = _mm256_setzero_ps();
  const int64_t Wp = W + 2;
  for (int64_t n = 0; n < images; n++)
    for (int64_t h = 0; h < H; h++) {
      const float* xr = xp + n * x_image + (h + r0) * Wp;
      const float* d = dyt + (n * H + h) * W * ld;
      for (int64_t w = 0; w < W; w++, xr++, d += ld) {
        __m256 dv[KV];
        for (int v = 0; v < KV; v++) dv[v] = _mm256_load_ps(d + v * kLanes8);
#pragma GCC unroll 16
        for (int i = 0; i < kTaps; i++) {
          const int c = i / (RB * 3), r = i % (RB * 3) / 3, s = i % 3;
          const __m256 xv = _mm256_broadcast_ss(xr + c * plane + r * Wp + s);
          for (int v = 0; v < KV; v++) acc[i * KV + v] = _mm256_fmadd_ps(xv, dv[v], acc[i * KV + v]);
        }
      }
    }
#pragma GCC unroll 16
  for (int i = 0; i < kTaps; i++) {
    const int c = i / (RB * 3), r = r0 + i % (RB * 3) / 3, s = i % 3;
    for (int v = 0; v < KV; v++) {
      float* at = out + (c * 9 + r * 3 + s) * ld_sum + v * kLanes8;
      _mm256_storeu_ps(at, _mm256_add_ps(_mm256_loadu_ps(at), acc[i * KV + v]));
    }
  }
}

}  // namespace

void filter3x3_images_avx2(const float* dy, const float* x, int64_t images, int64_t C, int64_t K, int64_t H, int64_t W,
                           float* copy, float* sum) {
  const int64_t HW = H * W, ld = round8(K), ld_sum = filter_sum_width(K), plane = (H + 2) * (W + 2);
  float *dyt = copy, *xp = copy + filter_x_copy_offset(images, K, H, W);
  for (int64_t n = 0; n < images; n++) {
    transpose_matrix8(dy + n * K * HW, K, HW, HW, dyt + n * HW * ld, ld, ld);  // filters past K zero
    pad_image(x + n * C * HW, C, H, W, xp + n * C * plane);
  }
  const int64_t x_image = C * plane;
  for (int64_t k0 = 0; k0 < ld;) {
    const float* dk = dyt + k0;
    float* out = sum + k0;
    if (ld - k0 >= 2 * kLanes8) {
      // Rows 0 and 1 of the taps one channel at a time, row 2 two channels at a time.
      for (int64_t c = 0; c < C; c++)
        filter_tile<1, 2, 2>(dk, ld, xp + c * plane, x_image, plane, images, H, W, 0, out + c * 9 * ld_sum, ld_sum);
      int64_t c = 0;
      for (; c + 2 <= C; c += 2)
        filter_tile<2, 1, 2>(dk, ld, xp + c * plane, x_image, plane, images, H, W, 2, out + c * 9 * ld_sum, ld_sum);
      if (c < C)
        filter_tile<1, 1, 2>(dk, ld, xp + c * plane, x_image, plane, images, H, W, 2, out + c * 9 * ld_sum, ld_sum);
      k0 += 2 * kLanes8;
    } else {  // the last 8 filters: all 9 taps of one channel
      for (int64_t c = 0; c < C; c++)
        filter_tile<1, 3, 1>(dk, ld, xp + c * plane, x_image, plane, images, H, W, 0, out + c * 9 * ld_sum, ld_sum);
      k0 += kLanes8;
    }
  }
}

}  // namespace cr::cpu_conv
#endif
