// The one CPU backend instance. Its ops are defined in the per-family files beside this one.
#include "cpu_backend.h"

#include "../core/env.h"

namespace cr {

Backend& cpu_backend() {
  static CpuBackend* b = new CpuBackend();  // leaked: outlives every tensor at exit
  return *b;
}

VectorIsa cpu_vector_isa() {
  static const VectorIsa isa = [] {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    const env::GemmKernelCap cap = env::cpu_gemm_cap();
    if (cap == env::GemmKernelCap::Generic) return VectorIsa::Baseline;
    __builtin_cpu_init();
    if (cap != env::GemmKernelCap::Avx2 && __builtin_cpu_supports("avx512f")) return VectorIsa::Avx512;
    if (__builtin_cpu_supports("avx2")) return VectorIsa::Avx2;
#endif
    return VectorIsa::Baseline;
  }();
  return isa;
}

}  // namespace cr
