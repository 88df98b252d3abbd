// Blocked SGEMM in the style of BLIS/GotoBLAS: for each KC x NC block of B (packed into
// NR-wide panels that stay in L2) and each MC x KC block of A (packed into MR-tall panels),
// an MR x NR micro-kernel keeps the C tile in registers across the whole KC loop. Packing
// makes every operand stride (transposed or not) look the same to the kernel, and pads the
// edges with zeros so the kernel never branches on size inside its loop. The tile shape
// belongs to the kernel (wider vectors, wider tiles), so the blocked loop is a template
// instantiated once per kernel and the choice is made once, at run time.
#include "gemm.h"

#include "../core/env.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "parallel.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CR_GEMM_X86 1
#include <immintrin.h>
#endif

namespace cr {

namespace {

// A block MC x KC = 128 KiB (L2); one B micro-panel KC x NR = 24-32 KiB (L1).
constexpr int64_t KC = 256;
constexpr int64_t MC = 128;
constexpr int64_t NC = 3072;

using KernelFn = void (*)(int64_t kc, const float* A, const float* B, float* C, int64_t rsc, int64_t csc, int mr,
                          int nr, float alpha, float beta);

// C(i, j) = alpha * acc + beta * C(i, j) for the valid part of a tile; beta == 0 must not
// read C.
template <int NR>
inline void store_tile(const float* acc, float* C, int64_t rsc, int64_t csc, int mr, int nr, float alpha, float beta) {
  for (int i = 0; i < mr; i++)
    for (int j = 0; j < nr; j++) {
      float& c = C[i * rsc + j * csc];
      float v = alpha * acc[i * NR + j];
      c = beta == 0.f ? v : v + beta * c;
    }
}

template <int MR, int NR>
void kernel_generic(int64_t kc, const float* A, const float* B, float* C, int64_t rsc, int64_t csc, int mr, int nr,
                    float alpha, float beta) {
  float acc[MR * NR] = {};
  for (int64_t k = 0; k < kc; k++, A += MR, B += NR)
    for (int i = 0; i < MR; i++)
      for (int j = 0; j < NR; j++) acc[i * NR + j] += A[i] * B[j];
  store_tile<NR>(acc, C, rsc, csc, mr, nr, alpha, beta);
}

#ifdef CR_GEMM_X86
// 4 x 24: twelve 8-wide accumulators, three B loads and four broadcasts per k step.
__attribute__((target("avx2,fma"))) void kernel_avx2(int64_t kc, const float* A, const float* B, float* C, int64_t rsc,
                                                     int64_t csc, int mr, int nr, float alpha, float beta) {
  constexpr int MR = 4, NR = 24;
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00;
  __m256 c20 = c00, c21 = c00, c22 = c00, c30 = c00, c31 = c00, c32 = c00;
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; k++) {
    // Aligned loads: B panels start 32-byte aligned (64-byte aligned buffer, 96-byte rows).
    const __m256 b0 = _mm256_load_ps(B), b1 = _mm256_load_ps(B + 8), b2 = _mm256_load_ps(B + 16);
    __m256 a = _mm256_broadcast_ss(A);
    c00 = _mm256_fmadd_ps(a, b0, c00), c01 = _mm256_fmadd_ps(a, b1, c01), c02 = _mm256_fmadd_ps(a, b2, c02);
    a = _mm256_broadcast_ss(A + 1);
    c10 = _mm256_fmadd_ps(a, b0, c10), c11 = _mm256_fmadd_ps(a, b1, c11), c12 = _mm256_fmadd_ps(a, b2, c12);
    a = _mm256_broadcast_ss(A + 2);
    c20 = _mm256_fmadd_ps(a, b0, c20), c21 = _mm256_fmadd_ps(a, b1, c21), c22 = _mm256_fmadd_ps(a, b2, c22);
    a = _mm256_broadcast_ss(A + 3);
    c30 = _mm256_fmadd_ps(a, b0, c30), c31 = _mm256_fmadd_ps(a, b1, c31), c32 = _mm256_fmadd_ps(a, b2, c32);
    A += MR;
    B += NR;
  }
  const __m256 rows[MR][3] = {{c00, c01, c02}, {c10, c11, c12}, {c20, c21, c22}, {c30, c31, c32}};
  if (mr == MR && nr == NR && csc == 1) {
    // Full tile over contiguous rows of C: update straight from the registers.
    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    for (int i = 0; i < MR; i++) {
      float* ci = C + i * rsc;
      for (int v = 0; v < 3; v++) {
        __m256 r = _mm256_mul_ps(va, rows[i][v]);
        if (beta != 0.f) r = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci + 8 * v), r);
        _mm256_storeu_ps(ci + 8 * v, r);
      }
    }
    return;
  }
  alignas(32) float acc[MR * NR];
  for (int i = 0; i < MR; i++)
    for (int v = 0; v < 3; v++) _mm256_store_ps(acc + i * NR + 8 * v, rows[i][v]);
  store_tile<NR>(acc, C, rsc, csc, mr, nr, alpha, beta);
}

// 8 x 32: sixteen 16-wide accumulators, two B loads and eight broadcasts per k step, twice
// the work per instruction of the AVX2 tile. Eight rows divide the channel counts of these
// nets (16, 32, 64, and C*R*S = 144, 288, 576); 32 columns divide their widths.
__attribute__((target("avx512f"))) void kernel_avx512(int64_t kc, const float* A, const float* B, float* C, int64_t rsc,
                                                      int64_t csc, int mr, int nr, float alpha, float beta) {
  constexpr int MR = 8, NR = 32;
  __m512 c[MR][2];
  for (int i = 0; i < MR; i++) c[i][0] = c[i][1] = _mm512_setzero_ps();
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; k++) {
    const __m512 b0 = _mm512_load_ps(B), b1 = _mm512_load_ps(B + 16);  // 128-byte panel rows
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
      const __m512 a = _mm512_set1_ps(A[i]);
      c[i][0] = _mm512_fmadd_ps(a, b0, c[i][0]);
      c[i][1] = _mm512_fmadd_ps(a, b1, c[i][1]);
    }
    A += MR;
    B += NR;
  }
  if (mr == MR && nr == NR && csc == 1) {
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    for (int i = 0; i < MR; i++) {
      float* ci = C + i * rsc;
      for (int v = 0; v < 2; v++) {
        __m512 r = _mm512_mul_ps(va, c[i][v]);
        if (beta != 0.f) r = _mm512_fmadd_ps(vb, _mm512_loadu_ps(ci + 16 * v), r);
        _mm512_storeu_ps(ci + 16 * v, r);
      }
    }
    return;
  }
  alignas(64) float acc[MR * NR];
  for (int i = 0; i < MR; i++)
    for (int v = 0; v < 2; v++) _mm512_store_ps(acc + i * NR + 16 * v, c[i][v]);
  store_tile<NR>(acc, C, rsc, csc, mr, nr, alpha, beta);
}
#endif

// A per-thread, 64-byte aligned scratch buffer that only grows.
class PackBuffer {
 public:
  ~PackBuffer() { std::free(p_); }
  float* get(size_t floats) {
    if (floats > n_) {
      std::free(p_);
      p_ = nullptr;
      n_ = 0;
      size_t bytes = ((floats * sizeof(float) + 63) / 64) * 64;
      p_ = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (!p_) throw std::bad_alloc();
      n_ = floats;
    }
    return p_;
  }

 private:
  float* p_ = nullptr;
  size_t n_ = 0;
};

thread_local PackBuffer t_apack, t_bpack;

#ifdef CR_GEMM_X86
// 4 rows of 4 floats at src + i * stride -> 4 columns at dst + t * dst_stride (SSE2, which
// every x86-64 CPU has).
inline void transpose4(const float* src, int64_t stride, float* dst, int64_t dst_stride) {
  __m128 r0 = _mm_loadu_ps(src), r1 = _mm_loadu_ps(src + stride);
  __m128 r2 = _mm_loadu_ps(src + 2 * stride), r3 = _mm_loadu_ps(src + 3 * stride);
  _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
  _mm_storeu_ps(dst, r0);
  _mm_storeu_ps(dst + dst_stride, r1);
  _mm_storeu_ps(dst + 2 * dst_stride, r2);
  _mm_storeu_ps(dst + 3 * dst_stride, r3);
}
#endif

// Copies `kc` values of each of `n` (<= W) source vectors, vector j read at src + j * js
// with unit stride in k, into dst[k * W + j] (a transpose); columns n..W-1 become 0.
template <int W>
void pack_transposed(int64_t kc, int n, const float* src, int64_t js, float* dst) {
  int64_t k = 0;
#ifdef CR_GEMM_X86
  if (n == W)
    for (; k + 4 <= kc; k += 4)
      for (int j = 0; j < W; j += 4) transpose4(src + j * js + k, js, dst + k * W + j, W);
#endif
  for (; k < kc; k++)
    for (int j = 0; j < W; j++) dst[k * W + j] = j < n ? src[j * js + k] : 0.f;
}

// A block (mc x kc) -> MR-row panels, each stored k-major: panel[k * MR + i].
template <int MR>
void pack_a(int64_t mc, int64_t kc, const float* a, int64_t rsa, int64_t csa, float* ap) {
  for (int64_t i0 = 0; i0 < mc; i0 += MR, ap += kc * MR) {
    const int m = static_cast<int>(std::min<int64_t>(MR, mc - i0));
    const float* a0 = a + i0 * rsa;
    if (csa == 1) {
      pack_transposed<MR>(kc, m, a0, rsa, ap);
    } else if (m == MR && rsa == 1) {
      for (int64_t k = 0; k < kc; k++)
        for (int i = 0; i < MR; i++) ap[k * MR + i] = a0[k * csa + i];
    } else {
      for (int64_t k = 0; k < kc; k++)
        for (int i = 0; i < MR; i++) ap[k * MR + i] = i < m ? a0[i * rsa + k * csa] : 0.f;
    }
  }
}

// B block (kc x nc) -> NR-column panels, each stored k-major: panel[k * NR + j].
template <int NR>
void pack_b(int64_t kc, int64_t nc, const float* b, int64_t rsb, int64_t csb, float* bp) {
  for (int64_t j0 = 0; j0 < nc; j0 += NR, bp += kc * NR) {
    const int n = static_cast<int>(std::min<int64_t>(NR, nc - j0));
    const float* b0 = b + j0 * csb;
    if (csb == 1 && n == NR) {
      // Fixed-size row copies: the compiler turns these into vector moves, where a
      // variable-length memcpy of 96 bytes costs more than the data.
      for (int64_t k = 0; k < kc; k++)
        for (int j = 0; j < NR; j++) bp[k * NR + j] = b0[k * rsb + j];
    } else if (rsb == 1) {
      pack_transposed<NR>(kc, n, b0, csb, bp);  // columns contiguous in k: a transposed operand
    } else {
      for (int64_t k = 0; k < kc; k++)
        for (int j = 0; j < NR; j++) bp[k * NR + j] = j < n ? b0[k * rsb + j * csb] : 0.f;
    }
  }
}

void scale_c(int64_t M, int64_t N, float beta, float* c, int64_t rsc, int64_t csc) {
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      float& v = c[i * rsc + j * csc];
      v = beta == 0.f ? 0.f : beta * v;
    }
}

template <int MR, int NR, KernelFn kern>
void gemm_serial(int64_t M, int64_t N, int64_t K, float alpha, const float* a, int64_t rsa, int64_t csa, const float* b,
                 int64_t rsb, int64_t csb, float beta, float* c, int64_t rsc, int64_t csc) {
  if (K == 0) {
    scale_c(M, N, beta, c, rsc, csc);
    return;
  }
  const int64_t kc_max = std::min(K, KC);
  const int64_t nc_max = (std::min(N, NC) + NR - 1) / NR * NR;
  const int64_t mc_max = (std::min(M, MC) + MR - 1) / MR * MR;
  float* bp = t_bpack.get(static_cast<size_t>(kc_max * nc_max));
  float* ap = t_apack.get(static_cast<size_t>(kc_max * mc_max));
  for (int64_t jc = 0; jc < N; jc += NC) {
    const int64_t nc = std::min(NC, N - jc);
    for (int64_t pc = 0; pc < K; pc += KC) {
      const int64_t kc = std::min(KC, K - pc);
      const float beta_k = pc == 0 ? beta : 1.f;  // later K blocks accumulate
      pack_b<NR>(kc, nc, b + pc * rsb + jc * csb, rsb, csb, bp);
      for (int64_t ic = 0; ic < M; ic += MC) {
        const int64_t mc = std::min(MC, M - ic);
        pack_a<MR>(mc, kc, a + ic * rsa + pc * csa, rsa, csa, ap);
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int nr = static_cast<int>(std::min<int64_t>(NR, nc - jr));
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const int mr = static_cast<int>(std::min<int64_t>(MR, mc - ir));
            kern(kc, ap + ir * kc, bp + jr * kc, c + (ic + ir) * rsc + (jc + jr) * csc, rsc, csc, mr, nr, alpha,
                 beta_k);
          }
        }
      }
    }
  }
}

using SerialFn = void (*)(int64_t, int64_t, int64_t, float, const float*, int64_t, int64_t, const float*, int64_t,
                          int64_t, float, float*, int64_t, int64_t);

struct KernelChoice {
  SerialFn serial = gemm_serial<4, 24, kernel_generic<4, 24>>;
  int mr = 4, nr = 24;
  const char* name = "generic";
  KernelChoice() {
#ifdef CR_GEMM_X86
    const env::GemmKernelCap cap = env::cpu_gemm_cap();
    const bool want_generic = cap == env::GemmKernelCap::Generic;
    const bool want_avx2 = cap == env::GemmKernelCap::Avx2;
    __builtin_cpu_init();
    if (want_generic) return;
    if (!want_avx2 && __builtin_cpu_supports("avx512f")) {
      serial = gemm_serial<8, 32, kernel_avx512>;
      mr = 8, nr = 32, name = "avx512";
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
      serial = gemm_serial<4, 24, kernel_avx2>;
      mr = 4, nr = 24, name = "avx2-fma";
    }
#endif
  }
};

const KernelChoice& kernel_choice() {
  static const KernelChoice k;
  return k;
}

}  // namespace

const char* gemm_kernel_name() { return kernel_choice().name; }

void sgemm(int64_t M, int64_t N, int64_t K, float alpha, const float* a, int64_t rsa, int64_t csa, const float* b,
           int64_t rsb, int64_t csb, float beta, float* c, int64_t rsc, int64_t csc) {
  if (M <= 0 || N <= 0) return;
  const KernelChoice& kc = kernel_choice();
  // Below ~1 MFLOP the hand-off to the pool costs more than it saves.
  const double flops = 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  if (cpu_threads() == 1 || flops < 1e6) {
    kc.serial(M, N, K, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc);
    return;
  }
  // Split the larger of M and N into tile-aligned slices, one per thread; each thread packs
  // its own panels (the shared operand is packed twice, a small price at two threads).
  if (N >= M) {
    const int64_t blocks = (N + kc.nr - 1) / kc.nr;
    parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
      const int64_t j0 = b0 * kc.nr, j1 = std::min(N, b1 * kc.nr);
      kc.serial(M, j1 - j0, K, alpha, a, rsa, csa, b + j0 * csb, rsb, csb, beta, c + j0 * csc, rsc, csc);
    });
  } else {
    const int64_t blocks = (M + kc.mr - 1) / kc.mr;
    parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
      const int64_t i0 = b0 * kc.mr, i1 = std::min(M, b1 * kc.mr);
      kc.serial(i1 - i0, N, K, alpha, a + i0 * rsa, rsa, csa, b, rsb, csb, beta, c + i0 * rsc, rsc, csc);
    });
  }
}

}  // namespace cr
