// Device-side helpers shared by the kernel families: fp32 load/store for every float dtype,
// the host dispatch from DType to a C++ type, and the NCHW/NHWC index arithmetic.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "../../core/dtype.h"
#include "../../core/errors.h"

namespace cr {
namespace cuda {

__device__ __forceinline__ float to_f(float v) { return v; }
__device__ __forceinline__ float to_f(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_f(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float to_f(int32_t v) { return static_cast<float>(v); }
__device__ __forceinline__ float to_f(uint8_t v) { return static_cast<float>(v); }

template <typename T>
__device__ __forceinline__ T from_f(float v);
template <>
__device__ __forceinline__ float from_f<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __half from_f<__half>(float v) {
  return __float2half_rn(v);
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

template <typename T>
struct Tag {
  using type = T;
};

// Calls f(Tag<T>{}) with T the storage type of a float dtype.
template <typename F>
void dispatch_float(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::F32: f(Tag<float>{}); return;
    case DType::F16: f(Tag<__half>{}); return;
    case DType::BF16: f(Tag<__nv_bfloat16>{}); return;
    default: throw_type(op, "dtype", std::string("must be a float dtype, got ") + dtype_name(t));
  }
}

// Any dtype, ints included.
template <typename F>
void dispatch_any(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::F32: f(Tag<float>{}); return;
    case DType::F16: f(Tag<__half>{}); return;
    case DType::BF16: f(Tag<__nv_bfloat16>{}); return;
    case DType::I32: f(Tag<int32_t>{}); return;
    case DType::U8: f(Tag<uint8_t>{}); return;
  }
  throw_type(op, "dtype", "is not supported");
}

// Memory offset of logical element (n, c, h, w).
__device__ __forceinline__ int64_t offset4(bool nhwc, int64_t n, int64_t c, int64_t h, int64_t w, int64_t C, int64_t H,
                                           int64_t W) {
  return nhwc ? ((n * H + h) * W + w) * C + c : ((n * C + c) * H + h) * W + w;
}

// The channel of memory offset i.
__device__ __forceinline__ int64_t channel_of(bool nhwc, int64_t i, int64_t C, int64_t HW) {
  return nhwc ? i % C : (i / HW) % C;
}

#define CR_GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

// Block-wide sum of a double (blockDim.x a multiple of 32, at most 1024); thread 0 gets it.
__device__ __forceinline__ double block_sum(double v) {
  __shared__ double warp_sums[32];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();  // warp_sums may still be read by a previous call
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  v = 0;
  if (warp == 0) {
    int nw = (blockDim.x + 31) >> 5;
    v = lane < nw ? warp_sums[lane] : 0.0;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  }
  return v;
}

}  // namespace cuda
}  // namespace cr
