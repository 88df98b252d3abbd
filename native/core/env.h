// Every environment switch the addon reads, in one place. Kernels and loaders ask these
// functions instead of calling getenv themselves, so the list below is the whole story (the
// README's "Environment variables" table and lib/env.ts list the same names; a test checks).
// Each value is read once, on first use, and kept for the life of the process: changing the
// variable afterwards has no effect, as with any other setting fixed at load time.
#pragma once
#include <string>

namespace cr::env {

// CUDNN_RESNET_BN: which batch-norm implementation the CUDA backend uses.
//   unset/other  cuDNN, with its fused NHWC fp16 BN(+add)+ReLU kernel where eligible
//   plain        cuDNN without the fused kernel
//   native       the backend's own kernels (never cuDNN)
enum class BatchNormPath { Auto, Plain, Native };
BatchNormPath batch_norm_path();

// CUDNN_RESNET_CPU_THREADS: cap on the CPU backend's worker threads (1..64); 0 when unset
// or not a positive integer (then the hardware concurrency decides).
int cpu_threads_override();

// CUDNN_RESNET_CPU_GEMM: caps the CPU GEMM's micro-kernel choice, and the direct 3x3
// convolution's with it, to test the older paths on a newer CPU: `avx2` = AVX2/FMA even where
// AVX-512 is available, `generic` = the portable GEMM kernel (and no direct convolution).
enum class GemmKernelCap { Auto, Avx2, Generic };
GemmKernelCap cpu_gemm_cap();

// CUDNN_RESNET_CPU_CONV: which CPU convolution kernels may run. `gemm` = unfold + GEMM only,
// the reference path (whose bits depend only on the GEMM kernel, see CUDNN_RESNET_CPU_GEMM);
// unset or any other value = the direct 3x3 kernel and the tap-wise GEMMs for tiny planes
// (conv_taps.h) wherever they apply.
enum class ConvPath { Auto, Gemm };
ConvPath cpu_conv_path();

// CUDNN_LIBRARY_PATH: libcudnn.so.9 or the folder holding it, tried before the default
// search; empty when unset.
std::string cudnn_library_path();

}  // namespace cr::env
