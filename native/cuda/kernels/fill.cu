// Constant, uniform and normal fills. Random values come from Philox4x32-10 keyed by the
// seed and indexed by the element's memory offset (core/philox.h), computed in double as on
// the CPU, so both backends produce the same tensor for the same seed.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "../../core/philox.h"
#include "../context.h"
#include "common.cuh"

namespace cr {
namespace cuda {
namespace {

template <typename T>
__device__ __forceinline__ T from_double(double v) {
  if constexpr (std::is_integral<T>::value)
    return static_cast<T>(v);
  else
    return from_f<T>(static_cast<float>(v));
}

template <typename T>
__global__ void fill_const_kernel(T* y, T v, int64_t n) {
  CR_GRID_STRIDE(i, n) { y[i] = v; }
}

template <typename T>
__global__ void fill_uniform_kernel(T* y, int64_t n, double low, double high, uint64_t seed) {
  CR_GRID_STRIDE(i, n) {
    double u = philox_uniform(seed, static_cast<uint64_t>(i));
    // _rn intrinsics: nvcc would contract a * b + c into an fma, which the host compiler
    // (no -mfma) does not, and the rounded float could then differ from the CPU's.
    y[i] = from_double<T>(__dadd_rn(low, __dmul_rn(high - low, u)));
  }
}

template <typename T>
__global__ void fill_normal_kernel(T* y, int64_t n, double mean, double stdev, uint64_t seed) {
  CR_GRID_STRIDE(i, n) {
    double z = philox_normal(seed, static_cast<uint64_t>(i));
    y[i] = from_double<T>(__dadd_rn(mean, __dmul_rn(stdev, z)));
  }
}

}  // namespace
}  // namespace cuda

void CudaBackend::fill_constant_(const Tensor& t, double value) {
  cuda::DeviceGuard g(ctx_->index);
  int64_t n = t.numel();
  // As on the CPU (a C++ conversion that overflows its target is undefined): integers are
  // truncated and clamped to their range, floats beyond fp32 become +-Inf.
  if (t.dtype == DType::I32 || t.dtype == DType::U8) {
    value = std::trunc(value);
    value = t.dtype == DType::U8 ? std::clamp(value, 0.0, 255.0) : std::clamp(value, -2147483648.0, 2147483647.0);
  } else if (std::fabs(value) > FLT_MAX) {
    value = value > 0 ? INFINITY : -INFINITY;
  }
  if (value == 0.0 && !std::signbit(value)) {  // all-zero bits for every dtype (-0.0 is not)
    CR_CUDA_CHECK(cudaMemsetAsync(t.raw(), 0, t.nbytes(), ctx_->stream), "fillConstant", t.describe());
    return;
  }
  cuda::dispatch_any(t.dtype, "fillConstant", [&](auto tag) {
    using T = typename decltype(tag)::type;
    // Converted on the host with core/dtype.h's rounding, the same the CPU backend uses.
    T v;
    if constexpr (std::is_same<T, __half>::value) {
      uint16_t bits = float_to_half(static_cast<float>(value));
      std::memcpy(&v, &bits, 2);
    } else if constexpr (std::is_same<T, __nv_bfloat16>::value) {
      uint16_t bits = float_to_bf16(static_cast<float>(value));
      std::memcpy(&v, &bits, 2);
    } else {
      v = static_cast<T>(value);
    }
    cuda::fill_const_kernel<T><<<cuda::grid_for(*ctx_, n), 256, 0, ctx_->stream>>>(t.data<T>(), v, n);
  });
  CR_LAUNCH_CHECK("fillConstant", t.describe());
}

void CudaBackend::fill_uniform_(const Tensor& t, double low, double high, uint64_t seed) {
  cuda::DeviceGuard g(ctx_->index);
  int64_t n = t.numel();
  cuda::dispatch_float(t.dtype, "fillUniform", [&](auto tag) {
    using T = typename decltype(tag)::type;
    cuda::fill_uniform_kernel<T><<<cuda::grid_for(*ctx_, n), 256, 0, ctx_->stream>>>(t.data<T>(), n, low, high, seed);
  });
  CR_LAUNCH_CHECK("fillUniform", t.describe());
}

void CudaBackend::fill_normal_(const Tensor& t, double mean, double stdev, uint64_t seed) {
  cuda::DeviceGuard g(ctx_->index);
  int64_t n = t.numel();
  cuda::dispatch_float(t.dtype, "fillNormal", [&](auto tag) {
    using T = typename decltype(tag)::type;
    cuda::fill_normal_kernel<T><<<cuda::grid_for(*ctx_, n), 256, 0, ctx_->stream>>>(t.data<T>(), n, mean, stdev, seed);
  });
  CR_LAUNCH_CHECK("fillNormal", t.describe());
}

}  // namespace cr
