// Convolution as one GEMM per filter tap, for the CPU backend's small output planes where
// most of the unfolded (im2col) matrix would be padding: a 3x3 filter with padding 1 over a
// 2x2 plane reads a real pixel in only 16 of its 36 (tap, output pixel) pairs, so the
// unfolded GEMM spends 5/9 of its multiply-adds on zeros. Here each tap (r, s) multiplies
// its [out, in] slice of the filters by the input pixels it actually reaches, gathered from
// all images of a group, and adds the products into the outputs those pairs belong to.
#pragma once
#include <cstdint>

#include "conv_unfold.h"

namespace cr::cpu_conv {

// Whether the tap-wise GEMMs serve this convolution: an output plane under 64 pixels whose
// (tap, output pixel) pairs reach a pixel of the input at most half of the time, unless
// CUDNN_RESNET_CPU_CONV=gemm asks for unfold + GEMM everywhere.
bool taps_apply(const ConvGeom& g);

// y [N, K, P, Q] = x [N, C, H, W] convolved with w [K, C, R, S] (+ bias[K] when not null).
void taps_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y);

// dx [N, C, H, W] = dy [N, K, P, Q] convolved with w transposed (the adjoint of taps_forward).
void taps_backward_data(const ConvGeom& g, const float* dy, const float* w, float* dx);

}  // namespace cr::cpu_conv
