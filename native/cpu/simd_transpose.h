// 16 x 16 (AVX-512) and 8 x 8 (AVX2) transposes of floats in registers, shared by the CPU
// kernels that move blocks between channels-first planes and channels-last copies.
// CR_TRANSPOSE16 is defined where they exist (x86-64 with GCC or Clang; each is compiled for
// its instruction set only and must be called from code that checked the CPU has it).
#pragma once

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CR_TRANSPOSE16 1
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

namespace cr::cpu_conv {

// GCC 12's own shuffle intrinsics start from an undefined vector, which -Wall reports as
// "may be used uninitialized" (GCC bug 105593); the results do not depend on it.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// 16 rows (r[i], 16 floats each) -> their transpose, in place.
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
#pragma GCC diagnostic pop

// 8 rows (r[i], 8 floats each) -> their transpose, in place (AVX2).
__attribute__((target("avx2,fma"))) inline void transpose8(__m256 r[8]) {
  __m256 t[8], s[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    s[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    s[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
    s[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    s[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; i++) {
    r[i] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x20);
    r[i + 4] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x31);
  }
}

// Matrices in memory: b[j * ldb + i] = a[i * lda + j] for i < rows, j < cols, and 0 for
// rows <= i < rows_out (zero columns appended to b), through 16 x 16 blocks in registers.
__attribute__((target("avx512f"))) inline void transpose_matrix16(const float* a, int64_t rows, int64_t cols,
                                                                  int64_t lda, float* b, int64_t ldb,
                                                                  int64_t rows_out) {
  for (int64_t j0 = 0; j0 < cols; j0 += 16) {
    const int64_t nj = std::min<int64_t>(16, cols - j0);
    const __mmask16 load = static_cast<__mmask16>((1u << nj) - 1);
    for (int64_t i0 = 0; i0 < rows_out; i0 += 16) {
      const __mmask16 store = static_cast<__mmask16>((1u << std::min<int64_t>(16, rows_out - i0)) - 1);
      __m512 r[16];
      for (int64_t i = 0; i < 16; i++)
        r[i] = i0 + i < rows ? _mm512_maskz_loadu_ps(load, a + (i0 + i) * lda + j0) : _mm512_setzero_ps();
      transpose16(r);
      for (int64_t j = 0; j < nj; j++) _mm512_mask_storeu_ps(b + (j0 + j) * ldb + i0, store, r[j]);
    }
  }
}

// The same with AVX2 and 8 x 8 blocks.
__attribute__((target("avx2,fma"))) inline void transpose_matrix8(const float* a, int64_t rows, int64_t cols,
                                                                  int64_t lda, float* b, int64_t ldb,
                                                                  int64_t rows_out) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int64_t j0 = 0; j0 < cols; j0 += 8) {
    const int64_t nj = std::min<int64_t>(8, cols - j0);
    const __m256i load = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(nj)), lane);
    for (int64_t i0 = 0; i0 < rows_out; i0 += 8) {
      const int64_t ni = std::min<int64_t>(8, rows_out - i0);
      const __m256i store = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(ni)), lane);
      __m256 r[8];
      for (int64_t i = 0; i < 8; i++)
        r[i] = i0 + i < rows ? _mm256_maskload_ps(a + (i0 + i) * lda + j0, load) : _mm256_setzero_ps();
      transpose8(r);
      for (int64_t j = 0; j < nj; j++) {
        float* to = b + (j0 + j) * ldb + i0;
        if (ni == 8)
          _mm256_storeu_ps(to, r[j]);
        else
          _mm256_maskstore_ps(to, store, r[j]);
      }
    }
  }
}

}  // namespace cr::cpu_conv
#endif
