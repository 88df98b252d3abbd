// The direct weight gradient declared in conv_filter.h, as outer products whose vectors run
// over 16 filters (output channels k): per pixel, one or two vectors of dy (16 or 32 filters,
// from a channels-last copy) times each of the 9 taps of one or two input channels, read as
// broadcasts from a zero-bordered copy of x, into 18 accumulators. The sum over a group of
// images' pixels stays in those registers; nothing is unfolded. A kernel with the pixels in
// the vectors instead (dy times x shifted by each tap, masked at the borders) measured no
// faster than the GEMM: one unaligned, masked vector load per 3 multiply-adds held it back.
#include "conv_filter.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "conv_direct.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CR_FILTER_X86 1
#include <immintrin.h>
#endif

namespace cr::cpu_conv {

namespace {

constexpr int64_t kLanes = 16;  // filters per vector
// Bytes of copied x and dy a group of images may span (every pass over a block of filters
// and input channels rereads the group), about half of a core's L2.
constexpr int64_t kGroupBytes = 256 * 1024;

int64_t lanes_of(int64_t K) { return (K + kLanes - 1) / kLanes * kLanes; }

#ifdef CR_FILTER_X86
// Each starts on a 64-byte boundary, so dy's vectors never straddle two cache lines.
struct GroupCopy {
  std::vector<float> dyt_buf, xp_buf;
  float *dyt = nullptr, *xp = nullptr;
};

float* aligned_floats(std::vector<float>& buf, int64_t n) {
  if (buf.size() < static_cast<size_t>(n + kLanes)) buf.resize(static_cast<size_t>(n + kLanes));
  const auto at = reinterpret_cast<uintptr_t>(buf.data());
  return buf.data() + (-at & 63) / sizeof(float);
}

// x [C, H, W] -> [C, H + 2, W + 2] with a zero border.
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

// GCC 12's own shuffle intrinsics start from an undefined vector, which -Wall reports as
// "may be used uninitialized" (GCC bug 105593); the results do not depend on it.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// 16 rows (in[i], 16 floats each) -> their transpose, in place.
__attribute__((target("avx512f"))) inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
    r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; i++) {
    t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xDD);
    t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xDD);
  }
  for (int i = 0; i < 8; i++) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
  }
}

// dy [K, HW] -> dyt [HW, Kp], filters past K zero, 16 x 16 blocks at a time.
__attribute__((target("avx512f"))) void transpose_image(const float* dy, int64_t K, int64_t HW, float* dyt) {
  const int64_t Kp = lanes_of(K);
  for (int64_t p0 = 0; p0 < HW; p0 += kLanes) {
    const int64_t np = std::min(kLanes, HW - p0);
    const __mmask16 m = static_cast<__mmask16>((1u << np) - 1);
    for (int64_t k0 = 0; k0 < Kp; k0 += kLanes) {
      __m512 r[16];
      for (int64_t j = 0; j < kLanes; j++)
        r[j] = k0 + j < K ? _mm512_maskz_loadu_ps(m, dy + (k0 + j) * HW + p0) : _mm512_setzero_ps();
      transpose16(r);
      for (int64_t i = 0; i < np; i++) _mm512_store_ps(dyt + (p0 + i) * Kp + k0, r[i]);
    }
  }
}

// sum [CT][Kp] -> dw [K][CT], 16 x 16 blocks at a time.
__attribute__((target("avx512f"))) void finish_avx512(const float* sum, int64_t CT, int64_t K, int64_t Kp, float* dw) {
  for (int64_t ct0 = 0; ct0 < CT; ct0 += kLanes) {
    const int64_t nct = std::min(kLanes, CT - ct0);
    const __mmask16 m = static_cast<__mmask16>((1u << nct) - 1);
    for (int64_t k0 = 0; k0 < K; k0 += kLanes) {
      __m512 r[16];
      for (int64_t i = 0; i < kLanes; i++)
        r[i] = i < nct ? _mm512_loadu_ps(sum + (ct0 + i) * Kp + k0) : _mm512_setzero_ps();
      transpose16(r);
      for (int64_t j = 0; j < std::min(kLanes, K - k0); j++) _mm512_mask_storeu_ps(dw + (k0 + j) * CT + ct0, m, r[j]);
    }
  }
}
#pragma GCC diagnostic pop

// The copies one group works on: dy channels-last [images][H * W][Kp] (filters past K zero)
// and x with a one-pixel zero border [images][C][H + 2][W + 2].
void copy_group(const float* dy, const float* x, int64_t images, int64_t C, int64_t K, int64_t H, int64_t W,
                GroupCopy& g) {
  const int64_t HW = H * W, Kp = lanes_of(K), plane = (H + 2) * (W + 2);
  g.dyt = aligned_floats(g.dyt_buf, images * HW * Kp);
  g.xp = aligned_floats(g.xp_buf, images * C * plane);
  for (int64_t n = 0; n < images; n++) {
    transpose_image(dy + n * K * HW, K, HW, g.dyt + n * HW * Kp);
    pad_image(x + n * C * HW, C, H, W, g.xp + n * C * plane);
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

bool filter3x3_applies(const ConvGeom& g) {
  return direct3x3_applies(g) && std::strcmp(direct3x3_kernel_name(), "avx512") == 0;
}

int64_t filter3x3_group(const ConvGeom& g) {
  const int64_t image_bytes = (g.C * (g.H + 2) * (g.W + 2) + lanes_of(g.K) * g.H * g.W) * 4;
  return std::clamp<int64_t>(kGroupBytes / image_bytes, 1, g.N);
}

int64_t filter3x3_sum_floats(int64_t C, int64_t K) { return C * 9 * lanes_of(K); }

void filter3x3_images(const float* dy, const float* x, int64_t images, int64_t C, int64_t K, int64_t H, int64_t W,
                      float* sum) {
  const int64_t Kp = lanes_of(K);
#ifdef CR_FILTER_X86
  thread_local GroupCopy copy;
  copy_group(dy, x, images, C, K, H, W, copy);
  const int64_t plane = (H + 2) * (W + 2);
  // Tiles of 18 accumulators: GCC spilled tiles of 27 (3 channels x 9 taps) to the stack.
  // Two filter vectors per broadcast where there are 32 filters left, else two channels.
  for (int64_t k0 = 0; k0 < Kp;) {
    const bool wide = Kp - k0 >= 2 * kLanes;
    const float* dk = copy.dyt + k0;
    for (int64_t c = 0; c < C;) {
      const float* xc = copy.xp + c * plane;
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
  finish_avx512(sum, CT, K, Kp, dw);
#else
  for (int64_t k = 0; k < K; k++)
    for (int64_t ct = 0; ct < CT; ct++) dw[k * CT + ct] = sum[ct * Kp + k];
#endif
}

}  // namespace cr::cpu_conv
