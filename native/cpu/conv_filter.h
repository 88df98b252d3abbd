// Direct weight gradient of the 3x3, stride-1, same-size convolutions (the layers the direct
// forward kernel serves): dw[k, c, r, s] = sum over images and pixels of dy[n, k, h, w] *
// x[n, c, h + r - 1, w + s - 1]. As im2col + GEMM this unfolds every image (9x its size),
// packs the columns and runs a GEMM whose long dimension (the pixels) is the reduction; here
// that reduction runs in registers (16 filters per vector) over per-image copies of x and dy.
#pragma once
#include <cstdint>

#include "conv_unfold.h"

namespace cr::cpu_conv {

// Whether the direct weight gradient serves this convolution: wherever the AVX-512 direct
// forward kernel does, so CUDNN_RESNET_CPU_CONV=gemm and CUDNN_RESNET_CPU_GEMM=avx2 or
// =generic keep unfold + GEMM, bit for bit as before.
bool filter3x3_applies(const ConvGeom& g);

// Images per filter3x3_images call: as many as keep the group's copies of x and dy (which
// every pass over a block of filters and channels rereads) within about half of a core's L2.
int64_t filter3x3_group(const ConvGeom& g);

// The weight gradient is summed filters-last, in `sum` [C * 9][K rounded up to 16] of this
// many floats (one vector per input channel and tap), and turned into dw at the end.
int64_t filter3x3_sum_floats(int64_t C, int64_t K);

// sum += the weight gradient of `images` consecutive images of x [., C, H, W] and dy
// [., K, H, W]; `sum` starts zeroed. Each call adds one fp32 sum over its images' pixels to
// every element.
void filter3x3_images(const float* dy, const float* x, int64_t images, int64_t C, int64_t K, int64_t H, int64_t W,
                      float* sum);

// dw [K, C, 3, 3] = sum, reordered (once per call of the op: runs add their sums first).
void filter3x3_finish(const float* sum, int64_t C, int64_t K, float* dw);

}  // namespace cr::cpu_conv
