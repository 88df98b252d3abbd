// The tap-wise convolution declared in conv_taps.h. Forward and backward data are one pass
// with the roles of the two planes swapped: for every tap t the pairs (output pixel o,
// input pixel i = o * stride + t's offset) that fall inside the input form a rectangle of
// output pixels, and
//   forward        y[n, k, o]  += sum_c w[k, c, t] x[n, c, i]
//   backward data  dx[n, c, i] += sum_k w[k, c, t] dy[n, k, o]
// so per tap, a GEMM of the filters' slice w[:, :, t] with the source pixels of the pairs
// gathered into [channels, images x pairs], whose result is added into the destination.
// Threads take blocks of destination channels: each writes only its own channels, and adds
// the taps in the same order, so the result does not depend on the thread count.
#include "conv_taps.h"

#include <algorithm>
#include <atomic>
#include <vector>

#include "../core/env.h"
#include "cpu_backend.h"
#include "gemm.h"
#include "parallel.h"

namespace cr::cpu_conv {

namespace {

// Floats of gathered source pixels per group of images (1 MiB, 32 images of a 2x2 plane
// with 512 channels); larger batches run in groups.
constexpr int64_t kGatherFloats = int64_t{1} << 18;

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Uninitialized floats from the backend's block cache (a fresh heap block of megabytes would
// be page-faulted in on every call).
struct Floats {
  Tensor t;
  explicit Floats(int64_t n) : t(cpu_backend().empty({std::max<int64_t>(n, 1)}, DType::F32, Layout::NCHW)) {}
  float* data() const { return t.data<float>(); }
};

// Output rows [o0, o1) whose input row o * stride + off lies in [0, extent).
void valid_range(int64_t extent, int64_t out, int64_t stride, int64_t off, int64_t& o0, int64_t& o1) {
  o0 = off >= 0 ? 0 : ceil_div(-off, stride);
  o1 = extent - off <= 0 ? 0 : std::min(out, ceil_div(extent - off, stride));
  o0 = std::min(o0, o1);
}

struct Tap {
  int64_t index;               // r * S + s
  int64_t off_h, off_w;        // input pixel = output pixel * stride + offset
  int64_t oh0, oh1, ow0, ow1;  // the output pixels whose input pixel exists
  int64_t pairs() const { return (oh1 - oh0) * (ow1 - ow0); }
};

std::vector<Tap> taps_of(const ConvGeom& g) {
  std::vector<Tap> taps;
  for (int64_t r = 0; r < g.R; r++)
    for (int64_t s = 0; s < g.S; s++) {
      Tap t{r * g.S + s, r * g.p.dilation_h - g.p.pad_h, s * g.p.dilation_w - g.p.pad_w, 0, 0, 0, 0};
      valid_range(g.H, g.P, g.p.stride_h, t.off_h, t.oh0, t.oh1);
      valid_range(g.W, g.Q, g.p.stride_w, t.off_w, t.ow0, t.ow1);
      if (t.pairs() > 0) taps.push_back(t);
    }
  return taps;
}

// Where pair j (row-major over the tap's rectangle) reads and writes: its pixel as an offset
// in the source plane and in the destination plane.
struct PairPixels {
  std::vector<int64_t> src, dst;
};

PairPixels pixels_of(const ConvGeom& g, const Tap& t, bool backward_data) {
  PairPixels px;
  for (int64_t oh = t.oh0; oh < t.oh1; oh++)
    for (int64_t ow = t.ow0; ow < t.ow1; ow++) {
      const int64_t o = oh * g.Q + ow, i = (oh * g.p.stride_h + t.off_h) * g.W + ow * g.p.stride_w + t.off_w;
      px.src.push_back(backward_data ? o : i);
      px.dst.push_back(backward_data ? i : o);
    }
  return px;
}

void run(const ConvGeom& g, bool backward_data, const float* src, const float* w, const float* bias, float* dst) {
  const std::vector<Tap> taps = taps_of(g);
  const int64_t RS = g.R * g.S, KC = g.K * g.C;
  const int64_t src_ch = backward_data ? g.K : g.C, dst_ch = backward_data ? g.C : g.K;
  const int64_t src_plane = backward_data ? g.pq() : g.H * g.W, dst_plane = backward_data ? g.H * g.W : g.pq();
  int64_t all_pairs = 0, max_pairs = 0;
  for (const Tap& t : taps) all_pairs += t.pairs(), max_pairs = std::max(max_pairs, t.pairs());
  const int64_t group = std::clamp<int64_t>(kGatherFloats / std::max<int64_t>(1, src_ch * all_pairs), 1, g.N);
  std::vector<PairPixels> pixels;
  for (const Tap& t : taps) pixels.push_back(pixels_of(g, t, backward_data));

  // The filters regrouped by tap, wt[t][k][c] = w[k][c][t]: each tap's slice is then a plain
  // matrix, read as [K, C] (forward) or through swapped strides as [C, K] (backward data).
  const Floats wt(RS * KC);
  parallel_for(g.K, 8, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; k++)  // row k of w (C * R * S floats) stays in L1 across the taps
      for (int64_t t = 0; t < RS; t++) {
        float* to = wt.data() + t * KC + k * g.C;
        const float* from = w + k * g.C * RS + t;
        for (int64_t c = 0; c < g.C; c++) to[c] = from[c * RS];
      }
  });

  const Floats gathered(src_ch * group * all_pairs);
  // Destination channels per work item: two items per thread, so a thread slowed by a busy
  // core can leave one to the other; each item packs the gathered pixels once per tap.
  const int64_t block = std::max<int64_t>(32, ceil_div(ceil_div(dst_ch, 2 * cpu_threads()), 8) * 8);
  const int64_t blocks = ceil_div(dst_ch, block);
  for (int64_t n0 = 0; n0 < g.N; n0 += group) {
    const int64_t imgs = std::min(group, g.N - n0);
    // gathered, per tap: [src_ch, imgs * pairs], column n * pairs + j = pixel j of image n.
    std::vector<int64_t> at(taps.size() + 1, 0);
    for (size_t t = 0; t < taps.size(); t++) at[t + 1] = at[t] + src_ch * imgs * taps[t].pairs();
    parallel_for(static_cast<int64_t>(taps.size()), 1, [&](int64_t t0, int64_t t1) {
      for (int64_t ti = t0; ti < t1; ti++) {
        const std::vector<int64_t>& from = pixels[static_cast<size_t>(ti)].src;
        const int64_t np = static_cast<int64_t>(from.size()), ld = imgs * np;
        float* b = gathered.data() + at[static_cast<size_t>(ti)];
        for (int64_t c = 0; c < src_ch; c++)
          for (int64_t n = 0; n < imgs; n++) {
            const float* plane = src + ((n0 + n) * src_ch + c) * src_plane;
            float* row = b + c * ld + n * np;
            for (int64_t j = 0; j < np; j++) row[j] = plane[from[static_cast<size_t>(j)]];
          }
      }
    });
    // Blocks of destination channels from a shared counter: a thread slowed by a busy core
    // takes fewer.
    std::atomic<int64_t> next{0};
    parallel_for(std::min<int64_t>(cpu_threads(), blocks), 1, [&](int64_t, int64_t) {
      const Floats prod(block * imgs * max_pairs);
      for (int64_t bi = next.fetch_add(1); bi < blocks; bi = next.fetch_add(1)) {
        const int64_t ch0 = bi * block, chs = std::min(block, dst_ch - ch0);
        for (int64_t n = 0; n < imgs; n++)
          for (int64_t ch = ch0; ch < ch0 + chs; ch++) {
            float* plane = dst + ((n0 + n) * dst_ch + ch) * dst_plane;
            std::fill(plane, plane + dst_plane, bias ? bias[ch] : 0.f);
          }
        for (size_t ti = 0; ti < taps.size(); ti++) {
          const std::vector<int64_t>& to = pixels[ti].dst;
          const int64_t np = static_cast<int64_t>(to.size()), ld = imgs * np;
          const float* wtap = wt.data() + taps[ti].index * KC;
          // prod[chs, imgs * np] = slice [chs, src_ch] . gathered[src_ch, imgs * np]
          if (backward_data)
            sgemm(chs, ld, src_ch, 1.f, wtap + ch0, 1, g.C, gathered.data() + at[ti], ld, 1, 0.f, prod.data(), ld, 1);
          else
            sgemm(chs, ld, src_ch, 1.f, wtap + ch0 * g.C, g.C, 1, gathered.data() + at[ti], ld, 1, 0.f, prod.data(), ld,
                  1);
          for (int64_t n = 0; n < imgs; n++)  // image-major: the destination planes are consecutive
            for (int64_t ch = 0; ch < chs; ch++) {
              float* plane = dst + ((n0 + n) * dst_ch + ch0 + ch) * dst_plane;
              const float* p = prod.data() + ch * ld + n * np;
              for (int64_t j = 0; j < np; j++) plane[to[static_cast<size_t>(j)]] += p[j];
            }
        }
      }
    });
  }
}

}  // namespace

bool taps_apply(const ConvGeom& g) {
  if (g.pq() >= 64 || g.R * g.S == 1 || env::cpu_conv_path() == env::ConvPath::Gemm) return false;
  int64_t pairs = 0;
  for (const Tap& t : taps_of(g)) pairs += t.pairs();
  return 2 * pairs <= g.pq() * g.R * g.S;
}

void taps_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y) {
  run(g, false, x, w, bias, y);
}

void taps_backward_data(const ConvGeom& g, const float* dy, const float* w, float* dx) {
  run(g, true, dy, w, nullptr, dx);
}

}  // namespace cr::cpu_conv
