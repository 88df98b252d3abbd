// Direct weight gradient of the 3x3, stride-1, same-size convolutions (the layers the direct
// forward kernel serves): dw[k, c, r, s] = sum over images and pixels of dy[n, k, h, w] *
// x[n, c, h + r - 1, w + s - 1]. As im2col + GEMM this unfolds every image (9x its size),
// packs the columns and runs a GEMM whose long dimension (the pixels) is the reduction; here
// that reduction runs in registers (16 filters per AVX-512 vector, 8 per AVX2 one) over
// per-image copies of x and dy.
#pragma once
#include <cstdint>

#include "conv_unfold.h"

namespace cr::cpu_conv {

// Whether the direct weight gradient serves this convolution: wherever the direct forward
// kernel does (AVX-512 or AVX2 + FMA), so CUDNN_RESNET_CPU_CONV=gemm and
// CUDNN_RESNET_CPU_GEMM=generic keep unfold + GEMM. Both kernels add the same products in the
// same order, so CUDNN_RESNET_CPU_GEMM=avx2 gives the AVX-512 kernel's bits.
bool filter3x3_applies(const ConvGeom& g);

// Images per filter3x3_images call: as many as keep the group's copies of x and dy (which
// every pass over a block of filters and channels rereads) within about half of a core's L2.
int64_t filter3x3_group(const ConvGeom& g);

// The weight gradient is summed filters-last, in `sum` [C * 9][K rounded up to 16] of this
// many floats (one vector per input channel and tap), and turned into dw at the end.
int64_t filter3x3_sum_floats(int64_t C, int64_t K);

// Floats of the caller's workspace for filter3x3_images calls of up to `images` images (the
// per-image copies of x and dy; a buffer of the backend's block cache, so repeated calls
// neither hold memory per thread nor page-fault it in again).
int64_t filter3x3_copy_floats(const ConvGeom& g, int64_t images);

// sum += the weight gradient of `images` consecutive images of x [., C, H, W] and dy
// [., K, H, W]; `sum` starts zeroed, `copy` holds filter3x3_copy_floats floats (64-byte
// aligned). Each call adds one fp32 sum over its images' pixels to every element.
void filter3x3_images(const float* dy, const float* x, int64_t images, int64_t C, int64_t K, int64_t H, int64_t W,
                      float* copy, float* sum);

// dw [K, C, 3, 3] = sum, reordered (once per call of the op: runs add their sums first).
void filter3x3_finish(const float* sum, int64_t C, int64_t K, float* dw);

}  // namespace cr::cpu_conv
