// Single-precision GEMM for the CPU backend (convolution and linear layers): cache-blocked,
// with packed panels and a register-tiled micro-kernel. The kernel (AVX-512, AVX2+FMA or
// portable) is chosen at run time, so one prebuilt binary is fast on new CPUs and runs
// (more slowly) on CPUs without AVX2.
#pragma once
#include <cstdint>
#include <vector>

#include "cpu_backend.h"

namespace cr {

// C = alpha * A * B + beta * C, all fp32, with every operand given by element strides:
//   A(i, k) = a[i * rsa + k * csa]   (M x K)
//   B(k, j) = b[k * rsb + j * csb]   (K x N)
//   C(i, j) = c[i * rsc + j * csc]   (M x N)
// so transposes are only a swap of strides. When beta == 0, C is not read (it may hold
// garbage or NaN). Splits itself over the CPU threads when called outside a parallel_for
// region and runs on the calling thread inside one.
void sgemm(int64_t M, int64_t N, int64_t K, float alpha, const float* a, int64_t rsa, int64_t csa, const float* b,
           int64_t rsb, int64_t csb, float beta, float* c, int64_t rsc, int64_t csc);

// Row-major convenience: C[M, N] = alpha * op(A) op(B) + beta * C, op(X) = X or X^T, with
// leading dimensions as in BLAS row-major calls.
inline void sgemm_rm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* a,
                     int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  sgemm(M, N, K, alpha, a, trans_a ? 1 : lda, trans_a ? lda : 1, b, trans_b ? 1 : ldb, trans_b ? ldb : 1, beta, c, ldc,
        1);
}

// Which micro-kernel runs here: "avx512", "avx2-fma" or "generic". CUDNN_RESNET_CPU_GEMM=avx2 or
// =generic in the environment caps the choice (to test those paths on newer CPUs).
const char* gemm_kernel_name();

}  // namespace cr
