// The CPU convolution's unfolding (im2col) and folding (col2im) of image rows into GEMM
// columns, kept apart from conv.cpp so that file holds only how the passes split work
// across images, bands and threads; the two meet only through ConvGeom and these calls.
#pragma once
#include <algorithm>
#include <cstdint>

#include "cpu_backend.h"

// A nested namespace: these names are shared across translation units, and a plain cr::ConvGeom
// could collide (silently, as an ODR violation) with a like-named type of another backend.
namespace cr::cpu_conv {

struct ConvGeom {
  int64_t N, C, H, W, K, R, S, P, Q;
  Conv2dParams p;
  int64_t band = 1;  // output rows unfolded at a time
  int64_t crs() const { return C * R * S; }
  int64_t pq() const { return P * Q; }
  int64_t chw() const { return C * H * W; }
  // A 1x1, stride-1, unpadded convolution's column matrix is the image itself.
  bool direct() const { return R == 1 && S == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_h == 0 && p.pad_w == 0; }
  // Floats of the column buffer one thread needs.
  int64_t col_floats() const { return direct() ? 0 : crs() * std::min(band, P) * Q; }
};

// x: one image [C, H, W] -> col [CRS, (oh1 - oh0) * Q] for output rows [oh0, oh1), rows of
// col ld floats apart (default: packed, ld = (oh1 - oh0) * Q).
void im2col(const ConvGeom& g, const float* x, int64_t oh0, int64_t oh1, float* col, int64_t ld = 0);

// col [CRS, (oh1 - oh0) * Q] (rows ld floats apart, default packed) -> dx: one image
// [C, H, W], accumulated (windows overlap). Clobbers the padding columns of col.
void col2im(const ConvGeom& g, float* col, int64_t oh0, int64_t oh1, float* dx, int64_t ld = 0);

// x [C, H, W] -> [C, H + 2, W + 2] with a zero border: the copy the direct 3x3 kernels
// read their taps from (conv_direct_broadcast.cpp, conv_filter*.cpp).
void pad_image(const float* x, int64_t C, int64_t H, int64_t W, float* xp);

}  // namespace cr::cpu_conv
