// Fully connected layer: y[N, M] = x[N, K] w[M, K]^T + b. The one GEMM of a ResNet is its
// classifier (e.g. 128 x 64 -> 10), far too small for a library call to pay off, so a
// shared-memory tiled kernel with fp32 accumulation does all three products; strides let
// one kernel read either operand transposed.
#include <algorithm>

#include "../context.h"
#include "common.cuh"
#include "kernels.h"

namespace cr {
namespace cuda {
namespace {

constexpr int kTile = 16;

// C[i, j] = sum_k A[i * as0 + k * as1] * B[k * bs0 + j * bs1], C row-major [R, S]. Row tiles
// are strided over gridDim.y (at most 65535), so any number of rows fits one launch.
template <typename TA, typename TB, typename TC>
__global__ void gemm_kernel(const TA* A, int64_t as0, int64_t as1, const TB* B, int64_t bs0, int64_t bs1, TC* Cm,
                            int64_t R, int64_t S, int64_t K, const float* bias) {
  __shared__ float ta[kTile][kTile + 1];
  __shared__ float tb[kTile][kTile + 1];
  const int64_t j = blockIdx.x * static_cast<int64_t>(kTile) + threadIdx.x;
  const int64_t row_tiles = (R + kTile - 1) / kTile;
  for (int64_t tile = blockIdx.y; tile < row_tiles; tile += gridDim.y) {  // uniform per block
    const int64_t i = tile * kTile + threadIdx.y;
    float acc = 0.f;
    for (int64_t k0 = 0; k0 < K; k0 += kTile) {
      int64_t ka = k0 + threadIdx.x, kb = k0 + threadIdx.y;
      ta[threadIdx.y][threadIdx.x] = (i < R && ka < K) ? to_f(A[i * as0 + ka * as1]) : 0.f;
      tb[threadIdx.y][threadIdx.x] = (kb < K && j < S) ? to_f(B[kb * bs0 + j * bs1]) : 0.f;
      __syncthreads();
#pragma unroll
      for (int k = 0; k < kTile; k++) acc = fmaf(ta[threadIdx.y][k], tb[k][threadIdx.x], acc);
      __syncthreads();
    }
    // The bias joins the fp32 sum, so a 16-bit result is rounded once (as on the CPU).
    if (i < R && j < S) Cm[i * S + j] = from_f<TC>(bias ? acc + bias[j] : acc);
  }
}

// out[R, S] in a's dtype (+ bias[S] when given); b is converted to a's dtype first when they differ.
Tensor gemm(DeviceContext& ctx, const Tensor& a, int64_t as0, int64_t as1, const Tensor& b_in, int64_t bs0, int64_t bs1,
            int64_t R, int64_t S, int64_t K, const char* op, const Tensor* bias = nullptr) {
  Tensor b = to_format(ctx, b_in, a.dtype, b_in.layout, op);
  Tensor bias32 = bias ? to_format(ctx, *bias, DType::F32, Layout::NCHW, op) : Tensor();
  Tensor out = new_tensor(ctx, {R, S}, a.dtype, Layout::NCHW, op);
  dim3 block(kTile, kTile);
  dim3 grid(static_cast<unsigned>((S + kTile - 1) / kTile),
            static_cast<unsigned>(std::min<int64_t>((R + kTile - 1) / kTile, 65535)));
  dispatch_float(a.dtype, op, [&](auto t) {
    using T = typename decltype(t)::type;
    gemm_kernel<T, T, T><<<grid, block, 0, ctx.stream>>>(a.data<T>(), as0, as1, b.data<T>(), bs0, bs1, out.data<T>(), R,
                                                         S, K, bias ? bias32.data<float>() : nullptr);
  });
  CR_LAUNCH_CHECK(op, describe_args({{"a", &a}, {"b", &b_in}}));
  return out;
}

}  // namespace
}  // namespace cuda

Tensor CudaBackend::linear_forward(const Tensor& x, const Tensor& w, const Tensor* bias) {
  cuda::DeviceGuard g(ctx_->index);
  int64_t N = x.dim(0), K = x.dim(1), M = w.dim(0);
  // y[n, m] = sum_k x[n, k] w[m, k]
  return cuda::gemm(*ctx_, x, K, 1, w, 1, K, N, M, K, "linearForward", bias);
}

Tensor CudaBackend::linear_backward_data(const Tensor& dy, const Tensor& w) {
  cuda::DeviceGuard g(ctx_->index);
  int64_t N = dy.dim(0), M = dy.dim(1), K = w.dim(1);
  // dx[n, k] = sum_m dy[n, m] w[m, k]
  return cuda::gemm(*ctx_, dy, M, 1, w, K, 1, N, K, M, "linearBackwardData");
}

Tensor CudaBackend::linear_backward_weight(const Tensor& dy, const Tensor& x) {
  cuda::DeviceGuard g(ctx_->index);
  int64_t N = dy.dim(0), M = dy.dim(1), K = x.dim(1);
  // dw[m, k] = sum_n dy[n, m] x[n, k]
  return cuda::gemm(*ctx_, dy, 1, M, x, K, 1, M, K, N, "linearBackwardWeight");
}

Tensor CudaBackend::linear_backward_bias(const Tensor& dy) {
  cuda::DeviceGuard g(ctx_->index);
  return cuda::channel_sum(*ctx_, dy, "linearBackwardBias");
}

}  // namespace cr
