// The direct 3x3 convolution of conv_direct.h for planes of more than 16 pixels, with the
// output channels in the vectors: a register tile is a run of pixels along one output row
// times one or two vectors of output channels. Per input channel and tap it loads the tile's
// filter vectors once and multiplies each by the input pixel under the tap, broadcast from a
// copy of the image with a zero border (so no lane needs a mask). The pixel tiles these
// replaced need an unaligned masked load per 8 (AVX-512) or 12 (AVX2) FMAs; these, one or
// two vector loads and up to 16 broadcasts per 12-20 FMAs. Measured per core on the 16- and
// 32-channel layers: AVX-512 105-125 -> 150-165 GFLOP/s.
// - AVX-512 (32 registers): up to 16 pixels x 1 vector of 16 channels, or 10 x 2;
// - AVX2 + FMA (16 registers): up to 8 pixels x 1 vector of 8 channels, or 6 x 2.
// The tile transposes its sums into the output planes. Each output sums over input
// channels, then taps, one FMA at a time from zero, then adds the bias: the order of the
// pixel tiles in conv_direct.cpp, so all give the same bits.
#include <algorithm>
#include <array>
#include <utility>

#include "conv_direct.h"
#include "simd_transpose.h"

namespace cr::cpu_conv {

namespace {

int64_t round_up(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

// Vectors of output channels a tile takes, of the `left` (a multiple of `lanes`) still to
// do. The packed filter keeps each such block's channels together, [in_ch][9][block]: as one
// array [in_ch][9][Kp], a block's rows lie Kp floats apart, and with 256 channels the rows a
// pass reads all fall in a few of L1's sets and evict each other (measured 2x slower).
int64_t block_vectors(int64_t left, int64_t lanes) { return left >= 2 * lanes ? 2 : 1; }

// Bytes of filter vectors one pass over the image multiplies by: so many that they stay in
// L1 next to the rows of input they meet (32 KB was no faster, and slower at 256 channels).
constexpr int64_t kFilterBytes = 16 * 1024;

// Input channels per pass of a tile of `kv` vectors.
int64_t channel_block(int64_t kv, int64_t lanes) { return std::max<int64_t>(1, kFilterBytes / (9 * kv * lanes * 4)); }

#ifdef CR_TRANSPOSE16
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

// Tile<P, KV>::run: acc[p][v] lane l (+)= sum over input channels i < in_ch and taps t of
// pk[(i * 9 + t) * KV * L + v * L + l] * the pixel under tap t of output pixel p (p < P,
// along one row; L lanes per vector), for xp pointing at the padded input's channel 0 at the
// row and column of the top-left tap. With `add`, the sums go on from the values in o.sums
// (a later block of input channels): stored and reloaded floats are exact, so the order of
// FMAs is unchanged. Each tap's address is hidden from the optimiser: else GCC sees that the
// taps of a row read the same pixels shifted by one and keeps each broadcast for three taps,
// which needs three times as many registers (the tile spills), and keeps an offset per tap
// and pixel, more than the integer registers hold.
template <int P, int KV>
struct Avx512Tile {
  static constexpr int64_t L = 16;
  __attribute__((target("avx512f"))) static void run(const float* xp, int64_t in_ch, int64_t plane, int64_t Wp,
                                                     const float* pk, bool add, const TileOut& o) {
    __m512 acc[P][KV];
    for (int p = 0; p < P; p++)
      for (int v = 0; v < KV; v++) acc[p][v] = add ? _mm512_load_ps(o.sums + p * o.Kp + v * L) : _mm512_setzero_ps();
    for (int64_t i = 0; i < in_ch; i++, xp += plane, pk += 9 * KV * L) {
#pragma GCC unroll 9
      for (int t = 0; t < 9; t++) {
        const float* x = xp + (t / 3) * Wp + t % 3;
        asm("" : "+r"(x));
        __m512 w[KV];
        for (int v = 0; v < KV; v++) w[v] = _mm512_load_ps(pk + (t * KV + v) * L);
#pragma GCC unroll 16
        for (int p = 0; p < P; p++) {
          const __m512 xb = _mm512_set1_ps(x[p]);
          for (int v = 0; v < KV; v++) acc[p][v] = _mm512_fmadd_ps(w[v], xb, acc[p][v]);
        }
      }
    }
    if (!o.out) {
      for (int p = 0; p < P; p++)
        for (int v = 0; v < KV; v++) _mm512_store_ps(o.sums + p * o.Kp + v * L, acc[p][v]);
      return;
    }
    // Pixels x channels -> channels x pixels, 16 x 16 at a time, stored as P pixels of a row.
    const __mmask16 m = static_cast<__mmask16>((1u << P) - 1);
    for (int v = 0; v < KV; v++) {
      __m512 r[16];
      for (int p = 0; p < 16; p++) r[p] = p < P ? acc[p][v] : _mm512_setzero_ps();
      transpose16(r);
      for (int64_t j = 0, c = v * L; j < L && c < o.channels; j++, c++)
        _mm512_mask_storeu_ps(o.out + c * o.plane, m, _mm512_add_ps(r[j], _mm512_set1_ps(o.bias ? o.bias[c] : 0.f)));
    }
  }
};

// Lane masks for the AVX2 stores: 8 - n from the start, the first n lanes set.
alignas(32) constexpr int32_t kFirstLanes[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

// The AVX2 twin of Avx512Tile (same sums, same order).
template <int P, int KV>
struct Avx2Tile {
  static constexpr int64_t L = 8;
  __attribute__((target("avx2,fma"))) static void run(const float* xp, int64_t in_ch, int64_t plane, int64_t Wp,
                                                      const float* pk, bool add, const TileOut& o) {
    __m256 acc[P][KV];
    for (int p = 0; p < P; p++)
      for (int v = 0; v < KV; v++) acc[p][v] = add ? _mm256_load_ps(o.sums + p * o.Kp + v * L) : _mm256_setzero_ps();
    for (int64_t i = 0; i < in_ch; i++, xp += plane, pk += 9 * KV * L) {
#pragma GCC unroll 9
      for (int t = 0; t < 9; t++) {
        const float* x = xp + (t / 3) * Wp + t % 3;
        asm("" : "+r"(x));
        __m256 w[KV];
        for (int v = 0; v < KV; v++) w[v] = _mm256_load_ps(pk + (t * KV + v) * L);
#pragma GCC unroll 8
        for (int p = 0; p < P; p++) {
          const __m256 xb = _mm256_broadcast_ss(x + p);
          for (int v = 0; v < KV; v++) acc[p][v] = _mm256_fmadd_ps(w[v], xb, acc[p][v]);
        }
      }
    }
    if (!o.out) {
      for (int p = 0; p < P; p++)
        for (int v = 0; v < KV; v++) _mm256_store_ps(o.sums + p * o.Kp + v * L, acc[p][v]);
      return;
    }
    const __m256i m = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kFirstLanes + 8 - P));
    for (int v = 0; v < KV; v++) {
      __m256 r[8];
      for (int p = 0; p < 8; p++) r[p] = p < P ? acc[p][v] : _mm256_setzero_ps();
      transpose8(r);
      for (int64_t j = 0, c = v * L; j < L && c < o.channels; j++, c++)
        _mm256_maskstore_ps(o.out + c * o.plane, m, _mm256_add_ps(r[j], _mm256_set1_ps(o.bias ? o.bias[c] : 0.f)));
    }
  }
};

using RowTile = void (*)(const float*, int64_t, int64_t, int64_t, const float*, bool, const TileOut&);

template <template <int, int> class Tile, int KV, size_t... P>
constexpr std::array<RowTile, sizeof...(P)> tiles_for(std::index_sequence<P...>) {
  return {&Tile<static_cast<int>(P) + 1, KV>::run...};
}

// Tiles by width (index P - 1), for 1 and 2 channel vectors: with the filter vectors and a
// broadcast, at most 22 of AVX-512's 32 registers and 15 of AVX2's 16, and no wider than the
// transposes that store them.
const auto kAvx512Tiles1 = tiles_for<Avx512Tile, 1>(std::make_index_sequence<16>{});
const auto kAvx512Tiles2 = tiles_for<Avx512Tile, 2>(std::make_index_sequence<10>{});
const auto kAvx2Tiles1 = tiles_for<Avx2Tile, 1>(std::make_index_sequence<8>{});
const auto kAvx2Tiles2 = tiles_for<Avx2Tile, 2>(std::make_index_sequence<6>{});

struct Tiles {
  const RowTile* tiles;
  int64_t widest;
};

Tiles tiles_of(int64_t kv, int64_t lanes) {
  if (lanes == 16) return kv == 2 ? Tiles{kAvx512Tiles2.data(), 10} : Tiles{kAvx512Tiles1.data(), 16};
  return kv == 2 ? Tiles{kAvx2Tiles2.data(), 6} : Tiles{kAvx2Tiles1.data(), 8};
}

// Output channels k0 .. k0 + kv * lanes (those below out_ch; their packed filter at pk) over
// the whole image, a block of input channels at a time (so its filter vectors stay in L1),
// each row in runs of near-equal width (a 32-pixel row with up to 10 per run: 8 + 8 + 8 + 8).
void block_rows(int64_t kv, int64_t lanes, const float* xp, int64_t in_ch, int64_t H, int64_t W, const float* pk,
                int64_t Kp, int64_t k0, int64_t out_ch, const float* bias, float* sums, float* out) {
  const Tiles t = tiles_of(kv, lanes);
  const int64_t Wp = W + 2, plane = (H + 2) * Wp, HW = H * W;
  const int64_t runs = (W + t.widest - 1) / t.widest, block = channel_block(kv, lanes);
  for (int64_t i0 = 0; i0 < in_ch; i0 += block) {
    const int64_t ni = std::min(block, in_ch - i0);
    const bool last = i0 + ni == in_ch;
    for (int64_t h = 0; h < H; h++)
      for (int64_t r = 0; r < runs; r++) {
        const int64_t w0 = W * r / runs, n = W * (r + 1) / runs - w0, at = h * W + w0;
        const TileOut o{sums + at * Kp + k0,        Kp, last ? out + k0 * HW + at : nullptr,
                        bias ? bias + k0 : nullptr, HW, out_ch - k0};
        t.tiles[n - 1](xp + i0 * plane + h * Wp + w0, ni, plane, Wp, pk + i0 * 9 * kv * lanes, i0 > 0, o);
      }
  }
}

#endif

}  // namespace

int64_t broadcast3x3_packed_floats(int64_t out_ch, int64_t in_ch, int64_t lanes) {
  return in_ch * 9 * round_up(out_ch, lanes);
}

void pack_broadcast3x3(const float* w, int64_t K, int64_t C, bool backward_data, int64_t lanes, float* packed) {
  const int64_t out_ch = backward_data ? C : K, in_ch = backward_data ? K : C, Kp = round_up(out_ch, lanes);
  std::fill(packed, packed + broadcast3x3_packed_floats(out_ch, in_ch, lanes), 0.f);
  for (int64_t k0 = 0; k0 < out_ch;) {
    const int64_t width = block_vectors(Kp - k0, lanes) * lanes;
    float* block = packed + in_ch * 9 * k0;
    for (int64_t o = k0; o < std::min(out_ch, k0 + width); o++)
      for (int64_t i = 0; i < in_ch; i++)
        for (int64_t t = 0; t < 9; t++)
          // Backward data reads w[i (= k), o (= c)] rotated: tap (r, s) takes (2 - r, 2 - s).
          block[(i * 9 + t) * width + o - k0] = backward_data ? w[(i * C + o) * 9 + (8 - t)] : w[(o * C + i) * 9 + t];
    k0 += width;
  }
}

// The padded copy of the input, then (where the input channels take more than one pass) the
// channels-last partial sums, each on a 64-byte boundary.
int64_t broadcast3x3_workspace_floats(int64_t in_ch, int64_t H, int64_t W, int64_t out_ch, int64_t lanes) {
  const int64_t padded = round_up(in_ch * (H + 2) * (W + 2), 16);
  return padded + (in_ch > channel_block(2, lanes) ? H * W * round_up(out_ch, lanes) : 0);
}

void broadcast3x3_image(const float* in, int64_t in_ch, int64_t H, int64_t W, const float* packed, int64_t out_ch,
                        const float* bias, int64_t lanes, float* work, float* out) {
#ifdef CR_TRANSPOSE16
  const int64_t Kp = round_up(out_ch, lanes);
  float* xp = work;
  float* sums = in_ch > channel_block(2, lanes) ? work + round_up(in_ch * (H + 2) * (W + 2), 16) : nullptr;
  pad_image(in, in_ch, H, W, xp);
  for (int64_t k0 = 0; k0 < Kp;) {
    const int64_t kv = block_vectors(Kp - k0, lanes);
    block_rows(kv, lanes, xp, in_ch, H, W, packed + in_ch * 9 * k0, Kp, k0, out_ch, bias, sums, out);
    k0 += kv * lanes;
  }
#else
  // Never called: broadcast tiles exist only on x86-64 (conv_direct.cpp's broadcast_lanes).
  (void)in, (void)in_ch, (void)H, (void)W, (void)packed, (void)out_ch, (void)bias, (void)lanes, (void)work, (void)out;
#endif
}

}  // namespace cr::cpu_conv
