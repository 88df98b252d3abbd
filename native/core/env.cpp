#include "env.h"

#include <cstdlib>
#include <cstring>

namespace cr::env {
namespace {

// The value of `name`, or "" when unset.
std::string read(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

}  // namespace

BatchNormPath batch_norm_path() {
  static const BatchNormPath p = [] {
    const std::string v = read("CUDNN_RESNET_BN");
    if (v == "native") return BatchNormPath::Native;
    if (v == "plain") return BatchNormPath::Plain;
    return BatchNormPath::Auto;
  }();
  return p;
}

int cpu_threads_override() {
  static const int n = [] {
    const std::string v = read("CUDNN_RESNET_CPU_THREADS");
    const int parsed = v.empty() ? 0 : std::atoi(v.c_str());
    return parsed >= 1 ? (parsed < 64 ? parsed : 64) : 0;
  }();
  return n;
}

GemmKernelCap cpu_gemm_cap() {
  static const GemmKernelCap c = [] {
    const std::string v = read("CUDNN_RESNET_CPU_GEMM");
    if (v == "generic") return GemmKernelCap::Generic;
    if (v == "avx2") return GemmKernelCap::Avx2;
    return GemmKernelCap::Auto;
  }();
  return c;
}

ConvPath cpu_conv_path() {
  static const ConvPath c = [] { return read("CUDNN_RESNET_CPU_CONV") == "gemm" ? ConvPath::Gemm : ConvPath::Auto; }();
  return c;
}

std::string cudnn_library_path() { return read("CUDNN_LIBRARY_PATH"); }

}  // namespace cr::env
