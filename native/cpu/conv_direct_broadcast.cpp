// The AVX-512 direct 3x3 convolution of conv_direct.h for planes of more than 16 pixels,
// with the output channels in the vectors: a register tile is a run of up to 16 pixels along
// one output row times one or two vectors of 16 output channels. Per input channel and tap
// it loads the tile's filter vectors once and multiplies each by the input pixel under the
// tap, broadcast from a copy of the image with a zero border (so no lane needs a mask): one
// or two vector loads and up to 16 broadcasts per 16-20 FMAs. The pixel tiles it replaced
// needed an unaligned masked load per 8 FMAs and ran at 105-125 GFLOP/s per core on the
// 16- and 32-channel layers, against 150-165 here.
// The tile transposes its sums into the output planes. Each output sums over input
// channels, then taps, one FMA at a time from zero, then adds the bias: the order of the
// pixel tiles in conv_direct.cpp, so all give the same bits.
#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include "conv_direct.h"
#include "simd_transpose.h"

namespace cr::cpu_conv {

#ifdef CR_TRANSPOSE16
namespace {

constexpr int64_t kLanes = 16;
// Pixels per tile for 1 and 2 vectors of output channels: with the filter vectors, up to 22
// of the 32 registers, and at most 16, the width of the transposes that store them. (Tiles of
// 4 vectors x 4 pixels measured 5-10% slower on 8x8 planes than 2 x 8, and no faster elsewhere.)
constexpr int kMaxPixels1 = 16, kMaxPixels2 = 10;

int64_t lanes_of(int64_t n) { return (n + kLanes - 1) / kLanes * kLanes; }

// Vectors of output channels a tile takes, of the `left` (a multiple of 16) still to do. The
// packed filter keeps each such block's channels together, [in_ch][9][block]: as one array
// [in_ch][9][Kp], a block's rows lie Kp floats apart, and with 256 channels the rows a pass
// reads all fall in a few of L1's sets and evict each other (measured 2x slower).
int64_t block_vectors(int64_t left) { return left >= 2 * kLanes ? 2 : 1; }

// Per-thread copies, each on a 64-byte boundary so the filter and sum vectors are aligned.
struct ImageBuffers {
  std::vector<float> padded_buf, sums_buf;
};

float* aligned_floats(std::vector<float>& buf, int64_t n) {
  if (buf.size() < static_cast<size_t>(n + kLanes)) buf.resize(static_cast<size_t>(n + kLanes));
  const auto at = reinterpret_cast<uintptr_t>(buf.data());
  return buf.data() + (-at & 63) / sizeof(float);
}

// Where a tile's sums go: after the last block of input channels, into the output planes
// (plus the bias); before it, channels-last into `sums`, to go on from there.
struct TileOut {
  float* sums;        // [pixels][Kp], at the tile's first pixel and channel
  int64_t Kp;         // floats between the pixels of `sums`
  float* out;         // the output plane of the tile's first channel, at its first pixel; null: not yet
  const float* bias;  // at the tile's first channel, or null
  int64_t plane;      // floats between output planes
  int64_t channels;   // output channels of the tile that exist (the rest of its vectors is padding)
};

// acc[p][v] lane l (+)= sum over input channels i < in_ch and taps t of
// pk[(i * 9 + t) * KV * 16 + v * 16 + l] * the pixel under tap t of output pixel p (p < P, along
// one row), for xp pointing at the padded input's channel 0 at the row and column of the
// top-left tap. With `add`, the sums go on from the values in o.sums (a later block of
// input channels): stored and reloaded floats are exact, so the order of FMAs is unchanged.
template <int P, int KV>
__attribute__((target("avx512f"))) void row_tile(const float* xp, int64_t in_ch, int64_t plane, int64_t Wp,
                                                 const float* pk, bool add, const TileOut& o) {
  constexpr int64_t kStride = KV * kLanes;  // floats of filter per input channel and tap
  const int64_t Kp = o.Kp;
  __m512 acc[P][KV];
  for (int p = 0; p < P; p++)
    for (int v = 0; v < KV; v++) acc[p][v] = add ? _mm512_load_ps(o.sums + p * Kp + v * kLanes) : _mm512_setzero_ps();
  for (int64_t i = 0; i < in_ch; i++, xp += plane, pk += 9 * kStride) {
#pragma GCC unroll 9
    for (int t = 0; t < 9; t++) {
      // Each tap's address is hidden from the optimiser. Else GCC sees that the taps of a row
      // read the same pixels shifted by one and keeps each broadcast for three taps, which
      // needs three times as many registers (the tile spills), and keeps an offset per tap
      // and pixel, more than the integer registers hold.
      const float* x = xp + (t / 3) * Wp + t % 3;
      asm("" : "+r"(x));
      __m512 w[KV];
      for (int v = 0; v < KV; v++) w[v] = _mm512_load_ps(pk + t * kStride + v * kLanes);
#pragma GCC unroll 16
      for (int p = 0; p < P; p++) {
        const __m512 xb = _mm512_set1_ps(x[p]);
        for (int v = 0; v < KV; v++) acc[p][v] = _mm512_fmadd_ps(w[v], xb, acc[p][v]);
      }
    }
  }
  if (!o.out) {
    for (int p = 0; p < P; p++)
      for (int v = 0; v < KV; v++) _mm512_store_ps(o.sums + p * Kp + v * kLanes, acc[p][v]);
    return;
  }
  // Pixels x channels -> channels x pixels, 16 x 16 at a time, stored as P pixels of a row.
  const __mmask16 m = static_cast<__mmask16>((1u << P) - 1);
  for (int v = 0; v < KV; v++) {
    __m512 r[16];
    for (int p = 0; p < 16; p++) r[p] = p < P ? acc[p][v] : _mm512_setzero_ps();
    transpose16(r);
    const int64_t n = std::min<int64_t>(kLanes, o.channels - v * kLanes);
    for (int64_t j = 0; j < n; j++) {
      const int64_t c = v * kLanes + j;
      const __m512 b = _mm512_set1_ps(o.bias ? o.bias[c] : 0.f);
      _mm512_mask_storeu_ps(o.out + c * o.plane, m, _mm512_add_ps(r[j], b));
    }
  }
}

using RowTile = void (*)(const float*, int64_t, int64_t, int64_t, const float*, bool, const TileOut&);

template <int KV, size_t... P>
constexpr std::array<RowTile, sizeof...(P)> tiles_for(std::index_sequence<P...>) {
  return {&row_tile<static_cast<int>(P) + 1, KV>...};
}

// Tiles by width (index P - 1) for each number of channel vectors.
const auto kTiles1 = tiles_for<1>(std::make_index_sequence<kMaxPixels1>{});
const auto kTiles2 = tiles_for<2>(std::make_index_sequence<kMaxPixels2>{});

// Bytes of filter vectors one pass over the image multiplies by: so many that they stay in
// L1 next to the rows of input they meet.
constexpr int64_t kFilterBytes = 16 * 1024;

// Input channels per pass of a tile, for KV vectors of output channels.
int64_t channel_block(int kv) { return std::max<int64_t>(1, kFilterBytes / (9 * kv * kLanes * 4)); }

// Output channels k0 .. k0 + KV * 16 (those below out_ch; their packed filter at pk) over the whole image, a block of
// input channels at a time (so its filter vectors stay in L1), each row in runs of
// near-equal width (a 56-pixel row with up to 16 per run takes four of 14).
template <int KV, size_t N>
void block_rows(const std::array<RowTile, N>& tiles, const float* xp, int64_t in_ch, int64_t H, int64_t W,
                const float* pk, int64_t Kp, int64_t k0, int64_t out_ch, const float* bias, float* sums, float* out) {
  const int64_t Wp = W + 2, plane = (H + 2) * Wp, HW = H * W;
  const int64_t runs = (W + static_cast<int64_t>(N) - 1) / static_cast<int64_t>(N);
  const int64_t width = (W + runs - 1) / runs, block = channel_block(KV);
  for (int64_t i0 = 0; i0 < in_ch; i0 += block) {
    const int64_t ni = std::min(block, in_ch - i0);
    const bool last = i0 + ni == in_ch;
    for (int64_t h = 0; h < H; h++)
      for (int64_t w0 = 0; w0 < W; w0 += width) {
        const int64_t n = std::min(width, W - w0), at = h * W + w0;
        const TileOut o{sums + at * Kp + k0,        Kp, last ? out + k0 * HW + at : nullptr,
                        bias ? bias + k0 : nullptr, HW, out_ch - k0};
        tiles[static_cast<size_t>(n - 1)](xp + i0 * plane + h * Wp + w0, ni, plane, Wp, pk + i0 * 9 * KV * kLanes,
                                          i0 > 0, o);
      }
  }
}

// x [C, H, W] -> [C, H + 2, W + 2] with a zero border.
void pad_image(const float* x, int64_t C, int64_t H, int64_t W, float* xp) {
  const int64_t Wp = W + 2;
  for (int64_t c = 0; c < C; c++, x += H * W, xp += (H + 2) * Wp) {
    std::fill(xp, xp + Wp + 1, 0.f);
    for (int64_t h = 0; h < H; h++) {
      float* row = xp + (h + 1) * Wp + 1;
      std::copy(x + h * W, x + (h + 1) * W, row);
      row[W] = row[W + 1] = 0.f;  // this row's right border, the next row's left
    }
    std::fill(xp + (H + 1) * Wp + 1, xp + (H + 2) * Wp, 0.f);
  }
}

}  // namespace

int64_t broadcast3x3_packed_floats(int64_t out_ch, int64_t in_ch) { return in_ch * 9 * lanes_of(out_ch); }

void pack_broadcast3x3(const float* w, int64_t K, int64_t C, bool backward_data, float* packed) {
  const int64_t out_ch = backward_data ? C : K, in_ch = backward_data ? K : C, Kp = lanes_of(out_ch);
  std::fill(packed, packed + broadcast3x3_packed_floats(out_ch, in_ch), 0.f);
  for (int64_t k0 = 0; k0 < out_ch;) {
    const int64_t width = block_vectors(Kp - k0) * kLanes;
    float* block = packed + in_ch * 9 * k0;
    for (int64_t o = k0; o < std::min(out_ch, k0 + width); o++)
      for (int64_t i = 0; i < in_ch; i++)
        for (int64_t t = 0; t < 9; t++)
          // Backward data reads w[i (= k), o (= c)] rotated: tap (r, s) takes (2 - r, 2 - s).
          block[(i * 9 + t) * width + o - k0] = backward_data ? w[(i * C + o) * 9 + (8 - t)] : w[(o * C + i) * 9 + t];
    k0 += width;
  }
}

void broadcast3x3_image(const float* in, int64_t in_ch, int64_t H, int64_t W, const float* packed, int64_t out_ch,
                        const float* bias, float* out) {
  thread_local ImageBuffers buf;
  const int64_t Kp = lanes_of(out_ch);
  float* xp = aligned_floats(buf.padded_buf, in_ch * (H + 2) * (W + 2));
  // Partial sums only where a tile takes the input channels in more than one block.
  float* sums = in_ch > channel_block(2) ? aligned_floats(buf.sums_buf, H * W * Kp) : nullptr;
  pad_image(in, in_ch, H, W, xp);
  for (int64_t k0 = 0; k0 < Kp;) {
    const int64_t vecs = block_vectors(Kp - k0);
    if (vecs == 2) {
      block_rows<2>(kTiles2, xp, in_ch, H, W, packed + in_ch * 9 * k0, Kp, k0, out_ch, bias, sums, out);
      k0 += 2 * kLanes;
    } else {
      block_rows<1>(kTiles1, xp, in_ch, H, W, packed + in_ch * 9 * k0, Kp, k0, out_ch, bias, sums, out);
      k0 += kLanes;
    }
  }
}
#endif

}  // namespace cr::cpu_conv
