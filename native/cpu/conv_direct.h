// Direct 3x3 convolution (stride 1, padding 1, same size) for the CPU backend's layers with
// few channels, where unfolding and packing for the GEMM cost about as much as the
// multiply-adds. Used by conv.cpp for the forward pass and for backward data, which is the
// same convolution of dy with the filters transposed and rotated by 180 degrees.
#pragma once
#include <cstdint>

#include "conv_unfold.h"

namespace cr::cpu_conv {

// Output channels per packed filter block of the pixel tiles (the AVX-512 tile's height; the
// AVX2 tile takes half).
constexpr int64_t kDirectBlock = 8;

// Which direct kernel serves the convolutions it applies to, fixed when the addon loads: the
// GEMM's ("avx512" or "avx2-fma", so CUDNN_RESNET_CPU_GEMM caps both), or "none" when unfold +
// GEMM serves them all (CUDNN_RESNET_CPU_CONV=gemm, or the portable GEMM kernel).
const char* direct3x3_kernel_name();

// Whether the direct kernel serves this convolution: 3x3, stride 1, padding 1, dilation 1,
// at least 64 pixels per plane or exactly 16, and a direct kernel chosen.
bool direct3x3_applies(const ConvGeom& g);

// Floats of the packed filter of this convolution's forward or backward-data pass (the layout
// depends on the kernel and the plane size).
int64_t direct_packed_floats(const ConvGeom& g, bool backward_data);

// Packs w [K, C, 3, 3] for the kernel: forward (out = K, in = C) or, with `backward_data`,
// transposed and rotated (out = C, in = K). Blocks past the last output channel are zero.
void pack_direct3x3(const ConvGeom& g, const float* w, bool backward_data, float* packed);

// Images per direct3x3_images call, so that the kernel's tiles are full: with AVX-512, two
// for 16-pixel planes (one tile), else one; with AVX2, three unless a plane fills whole tiles.
int64_t direct_images_per_call(const ConvGeom& g);

// Floats of the workspace each thread hands direct3x3_images (64-byte aligned; the copies
// the broadcast tiles read and sum into), at least 1.
int64_t direct_workspace_floats(const ConvGeom& g, bool backward_data);

// `images` consecutive images: out[n, o, h, w] = sum over i, r, s of packed(o, i, r, s) *
// in[n, i, h + r - 1, w + s - 1] (+ bias[o] when bias is not null), out overwritten. More
// than one image per call lets 4x4 planes (one vector each) share a register tile.
void direct3x3_images(const float* in, int64_t images, int64_t in_ch, int64_t H, int64_t W, const float* packed,
                      int64_t out_ch, const float* bias, float* work, float* out);

// The broadcast tiles for planes of more than 16 pixels (conv_direct_broadcast.cpp), which
// direct3x3_images calls per image: `lanes` 16 for AVX-512, 8 for AVX2. The packed filter
// holds the output channels (rounded up to `lanes`, zero past out_ch) in blocks of one or
// two vectors, each [in_ch][9][block]. `work` (64-byte aligned) holds
// broadcast3x3_workspace_floats of the image's copies.
int64_t broadcast3x3_packed_floats(int64_t out_ch, int64_t in_ch, int64_t lanes);
void pack_broadcast3x3(const float* w, int64_t K, int64_t C, bool backward_data, int64_t lanes, float* packed);
int64_t broadcast3x3_workspace_floats(int64_t in_ch, int64_t H, int64_t W, int64_t out_ch, int64_t lanes);
void broadcast3x3_image(const float* in, int64_t in_ch, int64_t H, int64_t W, const float* packed, int64_t out_ch,
                        const float* bias, int64_t lanes, float* work, float* out);

}  // namespace cr::cpu_conv
