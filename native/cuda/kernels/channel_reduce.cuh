// Deterministic per-channel reductions over N, H, W (conv bias grad, BN statistics): K sums
// per channel of a per-element functor, accumulated in double. Stage 1 splits the N*H*W
// positions into S fixed slices (grid y; gridDim.y stops at 65535, gridDim.x does not):
// - NCHW: a block per (channel, slice), its threads striding over the slice, which is
//   contiguous in memory;
// - NHWC: a block per (tile of 32 channels, slice), a warp reading 32 adjacent channels of one
//   position and 8 warps taking every 8th position, so each load uses whole sectors instead
//   of one value per 32-byte sector (a channel's values lie C elements apart).
// Stage 2: one thread per channel adds the S partials in order. Fixed slices and fixed
// summation order: same input, same bits, every run.
#pragma once
#include "../context.h"
#include "common.cuh"

namespace cr {
namespace cuda {

struct ChannelGeom {
  int64_t N, C, HW;
  bool nhwc;
  __device__ __forceinline__ int64_t offset(int64_t c, int64_t j) const {  // j in [0, N*HW)
    int64_t n = j / HW, hw = j - n * HW;
    return nhwc ? (n * HW + hw) * C + c : (n * C + c) * HW + hw;
  }
};

inline ChannelGeom geom_of(const Tensor& x) {
  ChannelGeom g;
  g.N = x.dim(0);
  g.C = x.dim(1);
  g.HW = x.rank() == 4 ? x.dim(2) * x.dim(3) : 1;
  g.nhwc = x.rank() == 4 && x.layout == Layout::NHWC;
  return g;
}

template <int K, typename F>
__global__ void channel_reduce_stage1(ChannelGeom g, F f, int64_t chunk, double* partial) {
  int64_t c = blockIdx.x, s = blockIdx.y, M = g.N * g.HW;
  int64_t begin = s * chunk, end = min(M, begin + chunk);
  double acc[K];
#pragma unroll
  for (int k = 0; k < K; k++) acc[k] = 0;
  for (int64_t j = begin + threadIdx.x; j < end; j += blockDim.x) f(g.offset(c, j), c, acc);
#pragma unroll
  for (int k = 0; k < K; k++) {
    double v = block_sum(acc[k]);
    if (threadIdx.x == 0) partial[(c * gridDim.y + s) * K + k] = v;
  }
}

constexpr int kTileC = 32, kTileRows = 8;

template <int K, typename F>
__global__ void channel_reduce_nhwc_stage1(ChannelGeom g, F f, int64_t chunk, double* partial) {
  __shared__ double rows[K][kTileRows][kTileC];
  const int64_t c = blockIdx.x * static_cast<int64_t>(kTileC) + threadIdx.x, s = blockIdx.y, M = g.N * g.HW;
  const int64_t begin = s * chunk, end = min(M, begin + chunk);
  double acc[K];
#pragma unroll
  for (int k = 0; k < K; k++) acc[k] = 0;
  if (c < g.C)
    for (int64_t j = begin + threadIdx.y; j < end; j += kTileRows) f(j * g.C + c, c, acc);
#pragma unroll
  for (int k = 0; k < K; k++) rows[k][threadIdx.y][threadIdx.x] = acc[k];
  __syncthreads();
  if (threadIdx.y != 0 || c >= g.C) return;
#pragma unroll
  for (int k = 0; k < K; k++) {
    double v = 0;
    for (int r = 0; r < kTileRows; r++) v += rows[k][r][threadIdx.x];
    partial[(c * gridDim.y + s) * K + k] = v;
  }
}

template <int K>
__global__ void channel_reduce_stage2(const double* partial, int64_t S, int64_t C, double* out) {
  int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (c >= C) return;
  for (int k = 0; k < K; k++) {
    double v = 0;
    for (int64_t s = 0; s < S; s++) v += partial[(c * S + s) * K + k];
    out[c * K + k] = v;
  }
}

// out[c * K + k] (device, doubles) = sum over channel c of what f adds to acc[k].
template <int K, typename F>
void channel_reduce(DeviceContext& ctx, const ChannelGeom& g, F f, double* out, const char* op) {
  int64_t M = g.N * g.HW;
  int64_t S = (M + 4095) / 4096;
  if (S > 64) S = 64;
  if (S < 1) S = 1;
  int64_t chunk = (M + S - 1) / S;
  Scratch partial(ctx, static_cast<size_t>(S * g.C * K) * sizeof(double), op);
  if (g.nhwc) {
    dim3 grid(static_cast<unsigned>((g.C + kTileC - 1) / kTileC), static_cast<unsigned>(S));
    channel_reduce_nhwc_stage1<K, F>
        <<<grid, dim3(kTileC, kTileRows), 0, ctx.stream>>>(g, f, chunk, partial.as<double>());
  } else {
    dim3 grid(static_cast<unsigned>(g.C), static_cast<unsigned>(S));
    channel_reduce_stage1<K, F><<<grid, 256, 0, ctx.stream>>>(g, f, chunk, partial.as<double>());
  }
  CR_LAUNCH_CHECK(op, "channel reduction stage 1");
  channel_reduce_stage2<K>
      <<<static_cast<unsigned>((g.C + 127) / 128), 128, 0, ctx.stream>>>(partial.as<double>(), S, g.C, out);
  CR_LAUNCH_CHECK(op, "channel reduction stage 2");
}

}  // namespace cuda
}  // namespace cr
