// The direct 3x3 convolution declared in conv_direct.h, with pixel tiles (AVX2 everywhere,
// AVX-512 for 4x4 planes; the AVX-512 tiles of larger planes are in conv_direct_broadcast.cpp).
// A pixel tile is a few output channels x a few vectors of output pixels; for each input channel and tap it loads the
// tile's input vectors straight from the image, shifted by the tap, with the lanes that fall
// into the padding masked to zero, and multiplies them by broadcast filter values. That is
// the GEMM micro-kernel's ratio of loads to FMAs, without the unfolded copy of the input (9x
// its size) and its packing. The vectors run along the image in row-major order (a vector
// may hold parts of two rows). All the kernels sum each output over input channels, then taps,
// in the same order, one FMA at a time, so they give the same bits:
// - AVX-512 (32 registers): 8 channels x 2 vectors of 16 pixels, 16 accumulators;
// - AVX2 + FMA (16 registers): 4 channels (half a packed block) x 3 vectors of 8 pixels,
//   12 accumulators, 3 input vectors and one broadcast filter value. Its vectors may come
//   from different images, so small planes fill whole tiles.
#include "conv_direct.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "../core/env.h"
#include "gemm.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CR_DIRECT_X86 1
#include <immintrin.h>
#endif

namespace cr::cpu_conv {

namespace {

constexpr int64_t kVec = 16;  // floats per AVX-512 vector
// Smaller planes leave many lanes of the vectors empty (a 2x2 image fills a quarter of one);
// there the GEMM, which takes several images at a time, wins. A 4x4 plane fills exactly one.
constexpr int64_t kMinPixels = 64;

#ifdef CR_DIRECT_X86
// Where one tile vector reads and writes: 16 consecutive pixels of the output plane, which
// may span rows (an 8-column image puts two rows in a vector), starting at `offset`. The
// convolution keeps the size, so tap (r, s) of a lane reads the input plane at the lane's
// own offset + (r - 1) * W + s - 1, where the lane's input row and column exist.
struct VecSite {
  int64_t offset = 0;
  __mmask16 store = 0;     // lanes inside the plane
  __mmask16 taps[9] = {};  // per tap: lanes whose input pixel exists
};

VecSite site_of(int64_t v, int64_t H, int64_t W) {
  VecSite site;
  site.offset = v * kVec;
  for (int64_t j = 0; j < kVec; j++) {
    const int64_t at = v * kVec + j, h = at / W, w = at % W;
    if (at >= H * W) break;  // the rest, or all of a tile's unused second vector: masked off
    site.store |= static_cast<__mmask16>(1u << j);
    for (int t = 0; t < 9; t++) {
      const int64_t ih = h + t / 3 - 1, iw = w + t % 3 - 1;
      if (ih >= 0 && ih < H && iw >= 0 && iw < W) site.taps[t] |= static_cast<__mmask16>(1u << j);
    }
  }
  return site;
}

// Masked-out lanes are never read, so a tap's address may lie before or after the image
// (rows and columns of padding); it is formed in integers so no out-of-range pointer exists.
__attribute__((target("avx512f"))) inline __m512 load_tap(const float* plane, int64_t at, __mmask16 m) {
  return _mm512_maskz_loadu_ps(
      m, reinterpret_cast<const float*>(reinterpret_cast<intptr_t>(plane) + static_cast<intptr_t>(at * 4)));
}

// Vectors a and b may belong to different images (in_a / out_a, in_b / out_b): with 4x4
// planes each image is one vector, and a tile takes two images. kSplit says so at compile
// time, so the common tile within one image walks one input pointer, not two.
template <bool kSplit>
__attribute__((target("avx512f"))) void tile_avx512(const float* in_a, const float* in_b, int64_t in_ch, int64_t HW,
                                                    int64_t W, const float* pk, const VecSite& a, const VecSite& b,
                                                    int valid, const float* bias, float* out_a, float* out_b) {
  __m512 acc0[kDirectBlock], acc1[kDirectBlock];
  for (int j = 0; j < kDirectBlock; j++) acc0[j] = acc1[j] = _mm512_setzero_ps();
  // Local copies: read through the references, the compiler reloads them inside the loop.
  __mmask16 ma[9], mb[9];
  int64_t at_a[9], at_b[9];
  for (int t = 0; t < 9; t++) {
    ma[t] = a.taps[t], mb[t] = b.taps[t];
    at_a[t] = a.offset + (t / 3 - 1) * W + t % 3 - 1;
    at_b[t] = b.offset + (t / 3 - 1) * W + t % 3 - 1;
  }
  for (int64_t i = 0; i < in_ch; i++, in_a += HW, in_b += kSplit ? HW : 0, pk += 9 * kDirectBlock) {
#pragma GCC unroll 9
    for (int t = 0; t < 9; t++) {
      const __m512 xa = load_tap(in_a, at_a[t], ma[t]);
      const __m512 xb = load_tap(kSplit ? in_b : in_a, at_b[t], mb[t]);
#pragma GCC unroll 8
      for (int j = 0; j < kDirectBlock; j++) {
        const __m512 wv = _mm512_set1_ps(pk[t * kDirectBlock + j]);
        acc0[j] = _mm512_fmadd_ps(wv, xa, acc0[j]);
        acc1[j] = _mm512_fmadd_ps(wv, xb, acc1[j]);
      }
    }
  }
  for (int j = 0; j < valid; j++) {
    const __m512 bv = _mm512_set1_ps(bias ? bias[j] : 0.f);
    _mm512_mask_storeu_ps(out_a + j * HW + a.offset, a.store, _mm512_add_ps(acc0[j], bv));
    if (b.store)
      _mm512_mask_storeu_ps((kSplit ? out_b : out_a) + j * HW + b.offset, b.store, _mm512_add_ps(acc1[j], bv));
  }
}

// The sites of an H x W plane's `vecs` vectors, plus one masked off (for a tile's missing
// vectors), worked out once per image size and thread rather than per tile: with 16 input
// channels a tile is only ~2300 FMAs, and the per-lane masks would cost a sizeable share.
template <class Site, Site (*SiteOf)(int64_t, int64_t, int64_t)>
const std::vector<Site>& plane_sites(int64_t H, int64_t W, int64_t vecs) {
  thread_local std::vector<Site> sites;
  thread_local int64_t sites_h = -1, sites_w = -1;
  if (sites_h != H || sites_w != W) {
    sites.resize(static_cast<size_t>(vecs + 1));
    for (int64_t v = 0; v <= vecs; v++) sites[static_cast<size_t>(v)] = SiteOf(v, H, W);
    sites_h = H, sites_w = W;
  }
  return sites;
}

// The vectors of `images` consecutive images, two per tile; 16-pixel planes (one vector)
// put two images in a tile.
void images_avx512(const float* in, int64_t images, int64_t in_ch, int64_t H, int64_t W, const float* packed,
                   int64_t out_ch, const float* bias, float* out) {
  const int64_t HW = H * W, vecs = (HW + kVec - 1) / kVec;
  const std::vector<VecSite>& sites = plane_sites<VecSite, site_of>(H, W, vecs);
  for (int64_t ob = 0; ob < out_ch; ob += kDirectBlock) {
    const float* pk = packed + ob * in_ch * 9;
    const int valid = static_cast<int>(std::min<int64_t>(kDirectBlock, out_ch - ob));
    const float* bo = bias ? bias + ob : nullptr;
    if (vecs == 1) {  // one vector per image: a tile takes two images (the last alone)
      const VecSite& site = sites[0];
      for (int64_t n = 0; n < images; n += 2) {
        const float* in_n = in + n * in_ch * HW;
        float* out_n = out + (n * out_ch + ob) * HW;
        if (n + 1 < images)
          tile_avx512<true>(in_n, in_n + in_ch * HW, in_ch, HW, W, pk, site, site, valid, bo, out_n,
                            out_n + out_ch * HW);
        else
          tile_avx512<false>(in_n, in_n, in_ch, HW, W, pk, site, sites[1], valid, bo, out_n, out_n);
      }
      continue;
    }
    for (int64_t n = 0; n < images; n++) {
      const float* in_n = in + n * in_ch * HW;
      float* out_n = out + (n * out_ch + ob) * HW;
      for (int64_t v = 0; v < vecs; v += 2)
        tile_avx512<false>(in_n, in_n, in_ch, HW, W, pk, sites[static_cast<size_t>(v)],
                           sites[static_cast<size_t>(v + 1)], valid, bo, out_n, out_n);
    }
  }
}

constexpr int64_t kVec8 = 8;   // floats per AVX2 vector
constexpr int kTileCh8 = 4;    // output channels per AVX2 tile
constexpr int kTileVecs8 = 3;  // vectors per AVX2 tile

// An 8-pixel vector of the output plane, as VecSite, with AVX2's lane masks (all bits of a
// lane set = in use).
struct VecSite8 {
  alignas(32) int32_t taps[9][kVec8] = {};
  alignas(32) int32_t store[kVec8] = {};
  int64_t offset = 0;
};

VecSite8 site8_of(int64_t v, int64_t H, int64_t W) {
  VecSite8 site;
  site.offset = v * kVec8;
  for (int64_t j = 0; j < kVec8; j++) {
    const int64_t at = v * kVec8 + j, h = at / W, w = at % W;
    if (at >= H * W) break;
    site.store[j] = -1;
    for (int t = 0; t < 9; t++) {
      const int64_t ih = h + t / 3 - 1, iw = w + t % 3 - 1;
      if (ih >= 0 && ih < H && iw >= 0 && iw < W) site.taps[t][j] = -1;
    }
  }
  return site;
}

// One vector of an AVX2 tile: its site, and the planes of its image it reads and writes.
struct Slot8 {
  const VecSite8* site;
  const float* in;
  float* out;
};

__attribute__((target("avx2,fma"))) inline __m256 load_tap8(intptr_t base, int64_t shift, const int32_t* mask) {
  return _mm256_maskload_ps(reinterpret_cast<const float*>(base + static_cast<intptr_t>(shift * 4)),
                            _mm256_load_si256(reinterpret_cast<const __m256i*>(mask)));
}

// pk points at the tile's first channel within a packed block; only the first `used` slots
// are stored.
__attribute__((target("avx2,fma"))) void tile_avx2(const Slot8 (&slot)[kTileVecs8], int used, int64_t in_ch, int64_t HW,
                                                   int64_t W, const float* pk, int valid, const float* bias) {
  __m256 acc[kTileCh8][kTileVecs8];
  for (auto& row : acc)
    for (auto& a : row) a = _mm256_setzero_ps();
  // Base addresses in integers: a tap's address may lie outside the image (masked lanes).
  intptr_t base[kTileVecs8];
  const int32_t* masks[kTileVecs8];
  for (int v = 0; v < kTileVecs8; v++) {
    base[v] = reinterpret_cast<intptr_t>(slot[v].in) + static_cast<intptr_t>(slot[v].site->offset * 4);
    masks[v] = &slot[v].site->taps[0][0];
  }
  const intptr_t plane_bytes = static_cast<intptr_t>(HW * 4);
  for (int64_t i = 0; i < in_ch; i++, pk += 9 * kDirectBlock) {
#pragma GCC unroll 9
    for (int t = 0; t < 9; t++) {
      const int64_t shift = (t / 3 - 1) * W + t % 3 - 1;
      __m256 x[kTileVecs8];
#pragma GCC unroll 3
      for (int v = 0; v < kTileVecs8; v++) x[v] = load_tap8(base[v], shift, masks[v] + t * kVec8);
#pragma GCC unroll 4
      for (int j = 0; j < kTileCh8; j++) {
        const __m256 wv = _mm256_broadcast_ss(pk + t * kDirectBlock + j);
#pragma GCC unroll 3
        for (int v = 0; v < kTileVecs8; v++) acc[j][v] = _mm256_fmadd_ps(wv, x[v], acc[j][v]);
      }
    }
    for (auto& b : base) b += plane_bytes;
  }
  for (int j = 0; j < valid; j++) {
    const __m256 bv = _mm256_set1_ps(bias ? bias[j] : 0.f);
    for (int v = 0; v < used; v++)
      _mm256_maskstore_ps(slot[v].out + j * HW + slot[v].site->offset,
                          _mm256_load_si256(reinterpret_cast<const __m256i*>(slot[v].site->store)),
                          _mm256_add_ps(acc[j][v], bv));
  }
}

// The vectors of `images` consecutive images, taken kTileVecs8 at a time across image
// boundaries; the last tile's missing vectors get the masked-off site, which reads and
// writes nothing.
void images_avx2(const float* in, int64_t images, int64_t in_ch, int64_t H, int64_t W, const float* packed,
                 int64_t out_ch, const float* bias, float* out) {
  const int64_t HW = H * W, vecs = (HW + kVec8 - 1) / kVec8, total = images * vecs;
  const std::vector<VecSite8>& sites = plane_sites<VecSite8, site8_of>(H, W, vecs);
  for (int64_t ob = 0; ob < out_ch; ob += kDirectBlock) {
    const float* pk = packed + ob * in_ch * 9;
    for (int64_t first = 0; first < total; first += kTileVecs8) {
      Slot8 slot[kTileVecs8];
      for (int v = 0; v < kTileVecs8; v++) {
        const int64_t at = std::min(first + v, total), n = std::min(at / vecs, images - 1);
        slot[v] = {&sites[static_cast<size_t>(at < total ? at % vecs : vecs)], in + n * in_ch * HW,
                   out + (n * out_ch + ob) * HW};
      }
      // Both halves of the packed block over the same input vectors, while they are in cache.
      for (int64_t half = 0; half < kDirectBlock; half += kTileCh8) {
        const int valid = static_cast<int>(std::min<int64_t>(kTileCh8, out_ch - ob - half));
        if (valid <= 0) break;
        Slot8 shifted[kTileVecs8];
        for (int v = 0; v < kTileVecs8; v++) shifted[v] = {slot[v].site, slot[v].in, slot[v].out + half * HW};
        tile_avx2(shifted, static_cast<int>(std::min<int64_t>(kTileVecs8, total - first)), in_ch, HW, W, pk + half,
                  valid, bias ? bias + ob + half : nullptr);
      }
    }
  }
}
#endif

// The same sum in plain loops, for builds without an x86 kernel (direct3x3_applies is then
// false, so conv.cpp never calls it; kept so the entry point is correct everywhere).
void image_portable(const float* in, int64_t in_ch, int64_t H, int64_t W, const float* packed, int64_t out_ch,
                    const float* bias, float* out) {
  for (int64_t o = 0; o < out_ch; o++) {
    const float* pk = packed + (o / kDirectBlock) * in_ch * 9 * kDirectBlock + o % kDirectBlock;
    for (int64_t h = 0; h < H; h++)
      for (int64_t w = 0; w < W; w++) {
        float acc = 0.f;
        for (int64_t i = 0; i < in_ch; i++)
          for (int64_t r = 0; r < 3; r++)
            for (int64_t s = 0; s < 3; s++) {
              const int64_t ih = h + r - 1, iw = w + s - 1;
              if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
              acc += pk[((i * 3 + r) * 3 + s) * kDirectBlock] * in[(i * H + ih) * W + iw];
            }
        out[(o * H + h) * W + w] = acc + (bias ? bias[o] : 0.f);
      }
  }
}

enum class DirectKernel { None, Avx512, Avx2 };

DirectKernel direct_kernel() {
  static const DirectKernel k = [] {
    if (env::cpu_conv_path() == env::ConvPath::Gemm) return DirectKernel::None;
    // The direct kernel follows the GEMM's choice, so CUDNN_RESNET_CPU_GEMM caps both.
    const char* gemm = gemm_kernel_name();
#ifdef CR_DIRECT_X86
    if (std::strcmp(gemm, "avx512") == 0) return DirectKernel::Avx512;
    if (std::strcmp(gemm, "avx2-fma") == 0) return DirectKernel::Avx2;
#endif
    (void)gemm;
    return DirectKernel::None;
  }();
  return k;
}

// Lanes per vector of the broadcast tiles of conv_direct_broadcast.cpp that serve an H x W
// plane (16 with AVX-512, 8 with AVX2), or 0 where the pixel tiles above do: on 4x4 planes a
// row has only 4 pixels for the broadcast tiles, while a pixel tile puts a whole image in a
// vector (measured 20% faster with AVX-512 at 256 channels).
int64_t broadcast_lanes(int64_t H, int64_t W) {
  if (H * W <= kVec) return 0;
  switch (direct_kernel()) {
    case DirectKernel::Avx512: return 16;
    case DirectKernel::Avx2: return 8;
    default: return 0;
  }
}

}  // namespace

const char* direct3x3_kernel_name() {
  switch (direct_kernel()) {
    case DirectKernel::Avx512: return "avx512";
    case DirectKernel::Avx2: return "avx2-fma";
    default: return "none";
  }
}

bool direct3x3_applies(const ConvGeom& g) {
  const Conv2dParams& p = g.p;
  return g.R == 3 && g.S == 3 && p.stride_h == 1 && p.stride_w == 1 && p.pad_h == 1 && p.pad_w == 1 &&
         p.dilation_h == 1 && p.dilation_w == 1 && (g.H * g.W >= kMinPixels || g.H * g.W == kVec) &&
         direct_kernel() != DirectKernel::None;
}

int64_t direct_images_per_call(const ConvGeom& g) {
#ifdef CR_DIRECT_X86
  if (direct_kernel() == DirectKernel::Avx2) {
    // Three images fill whole 3-vector tiles whatever the number of vectors per plane.
    const int64_t vecs = (g.H * g.W + kVec8 - 1) / kVec8;
    return vecs % kTileVecs8 == 0 ? 1 : kTileVecs8;
  }
#endif
  return g.H * g.W <= kVec ? 2 : 1;
}

int64_t direct_packed_floats(const ConvGeom& g, bool backward_data) {
  const int64_t out_ch = backward_data ? g.C : g.K, in_ch = backward_data ? g.K : g.C;
  if (const int64_t lanes = broadcast_lanes(g.H, g.W)) return broadcast3x3_packed_floats(out_ch, in_ch, lanes);
  return (out_ch + kDirectBlock - 1) / kDirectBlock * in_ch * 9 * kDirectBlock;
}

void pack_direct3x3(const ConvGeom& g, const float* w, bool backward_data, float* packed) {
  const int64_t K = g.K, C = g.C;
  if (const int64_t lanes = broadcast_lanes(g.H, g.W)) return pack_broadcast3x3(w, K, C, backward_data, lanes, packed);
  const int64_t out_ch = backward_data ? C : K, in_ch = backward_data ? K : C;
  std::fill(packed, packed + direct_packed_floats(g, backward_data), 0.f);
  for (int64_t o = 0; o < out_ch; o++)
    for (int64_t i = 0; i < in_ch; i++)
      for (int64_t t = 0; t < 9; t++) {
        // Backward data reads w[i (= k), o (= c)] rotated: tap (r, s) takes (2 - r, 2 - s).
        const float v = backward_data ? w[(i * C + o) * 9 + (8 - t)] : w[(o * C + i) * 9 + t];
        packed[((o / kDirectBlock * in_ch + i) * 9 + t) * kDirectBlock + o % kDirectBlock] = v;
      }
}

int64_t direct_workspace_floats(const ConvGeom& g, bool backward_data) {
  const int64_t lanes = broadcast_lanes(g.H, g.W);
  if (!lanes) return 1;
  return broadcast3x3_workspace_floats(backward_data ? g.K : g.C, g.H, g.W, backward_data ? g.C : g.K, lanes);
}

void direct3x3_images(const float* in, int64_t images, int64_t in_ch, int64_t H, int64_t W, const float* packed,
                      int64_t out_ch, const float* bias, float* work, float* out) {
#ifdef CR_DIRECT_X86
  if (const int64_t lanes = broadcast_lanes(H, W)) {
    for (int64_t n = 0; n < images; n++)
      broadcast3x3_image(in + n * in_ch * H * W, in_ch, H, W, packed, out_ch, bias, lanes, work,
                         out + n * out_ch * H * W);
    return;
  }
  if (direct_kernel() == DirectKernel::Avx2) return images_avx2(in, images, in_ch, H, W, packed, out_ch, bias, out);
  if (direct_kernel() == DirectKernel::Avx512) return images_avx512(in, images, in_ch, H, W, packed, out_ch, bias, out);
#endif
  const int64_t HW = H * W;
  for (int64_t n = 0; n < images; n++)
    image_portable(in + n * in_ch * HW, in_ch, H, W, packed, out_ch, bias, out + n * out_ch * HW);
}

}  // namespace cr::cpu_conv
