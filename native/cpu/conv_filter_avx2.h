// The AVX2 + FMA twin of conv_filter.cpp's AVX-512 weight-gradient kernel, and what the two
// share: the layout of the per-group copies and of the filters-last sum.
#pragma once
#include <cstdint>

namespace cr::cpu_conv {

// The sum's rows [C * 9] are filter_sum_width(K) floats long whichever kernel fills them
// (the AVX-512 kernel's 16-filter vectors), so the runs' sums add and finish the same way.
constexpr int64_t kFilterSumLanes = 16;
inline int64_t filter_sum_width(int64_t K) { return (K + kFilterSumLanes - 1) / kFilterSumLanes * kFilterSumLanes; }

// Where a group's copies go in the caller's workspace (64-byte aligned): dy channels-last
// first, at most images * H * W * filter_sum_width(K) floats, then x with a zero border
// [images][C][H + 2][W + 2], on the next 64-byte boundary.
inline int64_t filter_x_copy_offset(int64_t images, int64_t K, int64_t H, int64_t W) {
  return images * H * W * filter_sum_width(K);  // a multiple of 16 floats
}

// filter3x3_images (conv_filter.h) on AVX2 + FMA: the same products added in the same order
// as the AVX-512 kernel, 8 filters per vector. Defined on x86-64 builds only.
void filter3x3_images_avx2(const float* dy, const float* x, int64_t images, int64_t C, int64_t K, int64_t H, int64_t W,
                           float* copy, float* sum);

}  // namespace cr::cpu_conv
