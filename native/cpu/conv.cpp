// 2-D convolution (cross-correlation, as cuDNN and PyTorch) on the CPU as im2col + GEMM.
// Per image n and band of output rows b, with col[C*R*S, |b|] the unfolded input:
//   forward          y_n[K, b]    = w[K, CRS] . col
//   backward data    dcol[CRS, b] = w^T . dy_n[K, b],  then folded back (col2im) into dx_n
//   backward filter  dw[K, CRS]  += dy_n[K, b] . col^T
// Threads take whole images, each with its own band-sized column buffer, so memory stays
// at a few hundred KiB per thread whatever the batch. Images are handed out one at a time
// from a shared counter, so a thread slowed by a busy core simply takes fewer. With a
// single image the loop runs inline and the GEMM splits itself across the threads instead.
// All arithmetic is fp32; other dtypes and NHWC are converted on the way in and out.
// The unfolding and folding themselves are in conv_unfold.cpp; same-size 3x3 layers skip them
// through the direct kernels of conv_direct.cpp (forward, backward data) and conv_filter*.cpp
// (backward filter), and tiny planes run one GEMM per tap
// (conv_taps.cpp) instead.
#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>

#include "../core/errors.h"
#include "conv_direct.h"
#include "conv_filter.h"
#include "conv_taps.h"
#include "conv_unfold.h"
#include "cpu_backend.h"
#include "gemm.h"
#include "parallel.h"

namespace cr {

namespace {

using cpu_conv::col2im;
using cpu_conv::ConvGeom;
using cpu_conv::im2col;

// Unfolding a band of output rows at a time, sized so the band's columns (~256 KiB) and
// the GEMM's packed copy of them both stay in a core's L2: unfolding a whole image at once
// (590 KiB for a 16-channel 32x32 layer) made every pass stream through L3.
constexpr int64_t kBandFloats = 64 * 1024;
// Images with fewer output pixels than kSmallImage go to the GEMMs several at a time, their
// columns side by side, about kBatchColumns in all (backward filter; forward and backward
// data when unfolded). One 2x2 image of a 512-channel layer
// gives a GEMM 4 deep that reads and writes all of dw (2.4 M floats) for 4 multiply-adds
// per element; 32 images at once read and write it once.
constexpr int64_t kSmallImage = 64;
constexpr int64_t kBatchColumns = 128;

ConvGeom geometry(const char* op, const Shape& x, const Shape& w, const Conv2dParams& p) {
  ConvGeom g{x[0], x[1], x[2], x[3], w[0], w[2], w[3], 0, 0, p};
  g.P = conv_out_size(g.H, g.R, p.stride_h, p.pad_h, p.dilation_h);
  g.Q = conv_out_size(g.W, g.S, p.stride_w, p.pad_w, p.dilation_w);
  if (g.P < 1 || g.Q < 1) throw_runtime(op, "empty output for x " + shape_str(x) + " and w " + shape_str(w));
  // Refuse column buffers that could not be allocated anyway (and products that overflow).
  if (static_cast<double>(g.crs()) * static_cast<double>(g.Q) > static_cast<double>(kMaxElements))
    throw OpError(ErrorKind::OutOfMemory,
                  std::string(op) + ": one unfolded output row (" + std::to_string(g.crs()) + " x " +
                      std::to_string(g.Q) + " floats) is too large",
                  "ERR_CPU_OOM");
  g.band = g.direct() ? g.P : std::max<int64_t>(1, kBandFloats / (g.crs() * g.Q));
  return g;
}

// Runs body(n, scratch) for every image n on up to cpu_threads() workers that pull images
// from a shared counter; each worker first makes its scratch with make() and hands it to
// done() at the end (under a lock, for merging partial results).
template <typename Make, typename Body, typename Done>
void over_images(int64_t N, Make&& make, Body&& body, Done&& done) {
  std::atomic<int64_t> next{0};
  std::mutex m;
  parallel_for(std::min<int64_t>(cpu_threads(), N), 1, [&](int64_t w0, int64_t w1) {
    for (int64_t w = w0; w < w1; w++) {
      auto scratch = make();
      for (int64_t n = next.fetch_add(1); n < N; n = next.fetch_add(1)) body(n, scratch);
      std::lock_guard<std::mutex> lock(m);
      done(scratch);
    }
  });
}

// An uninitialized float buffer (every element is written before it is read), taken from
// the backend's block cache: fresh heap blocks of this size are mmapped and returned on free,
// so every call would page-fault its megabytes in again.
struct Scratch {
  Tensor t;
  float* get() const { return t.data<float>(); }
};
Scratch scratch_floats(int64_t n) { return {cpu_backend().empty({std::max<int64_t>(n, 1)}, DType::F32, Layout::NCHW)}; }

// Forward and backward data take small images (unfolded, not direct) several per GEMM too:
// per image, a 2x2 output makes a GEMM 4 columns wide that packs all of w for 4 columns.
int64_t images_per_gemm(const ConvGeom& g) {
  return g.direct() || g.pq() >= kSmallImage ? 1 : std::clamp<int64_t>(kBatchColumns / g.pq(), 1, g.N);
}

struct GroupScratch {
  Scratch col, mat;  // unfolded columns [CRS, ld]; GEMM result or operand [K, ld]
};

// Forward (x -> y) and backward data (dy -> dx, the filters transposed and rotated) run the
// same direct kernel over the batch; only the packing and which side has C or K channels differ.
void direct3x3_batch(const ConvGeom& g, const float* in, bool backward_data, const float* w, const float* bias,
                     float* out) {
  const int64_t in_ch = backward_data ? g.K : g.C, out_ch = backward_data ? g.C : g.K, plane = g.H * g.W;
  const Scratch pk = scratch_floats(cpu_conv::direct_packed_floats(g, backward_data));
  cpu_conv::pack_direct3x3(g, w, backward_data, pk.get());
  const int64_t per = cpu_conv::direct_images_per_call(g), work = cpu_conv::direct_workspace_floats(g, backward_data);
  over_images((g.N + per - 1) / per, [&] { return scratch_floats(work); },
              [&](int64_t gi, Scratch& ws) {
                const int64_t n = gi * per;
                cpu_conv::direct3x3_images(in + n * in_ch * plane, std::min(per, g.N - n), in_ch, g.H, g.W, pk.get(),
                                           out_ch, bias, ws.get(), out + n * out_ch * plane);
              },
              [](Scratch&) {});
}

}  // namespace

Tensor CpuBackend::conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, const Conv2dParams& p) {
  const ConvGeom g = geometry("conv2dForward", x.shape, w.shape, p);
  std::vector<float> hx, hw, hb;
  const float* xs = f32_view(x, hx);
  const float* ws = f32_view(w, hw);
  const float* bs = bias ? f32_view(*bias, hb) : nullptr;
  F32Result out(*this, {g.N, g.K, g.P, g.Q}, x.dtype, x.layout);
  float* y = out.data();
  const int64_t crs = g.crs(), pq = g.pq();
  if (cpu_conv::direct3x3_applies(g)) {
    direct3x3_batch(g, xs, false, ws, bs, y);
    return out.finish();
  }
  if (cpu_conv::taps_apply(g)) {
    cpu_conv::taps_forward(g, xs, ws, bs, y);
    return out.finish();
  }
  if (const int64_t per = images_per_gemm(g); per > 1) {
    over_images((g.N + per - 1) / per,
                [&] {
                  return GroupScratch{scratch_floats(crs * per * pq), scratch_floats(g.K * per * pq)};
                },
                [&](int64_t gi, GroupScratch& s) {
                  const int64_t n0 = gi * per, cnt = std::min(per, g.N - n0), ld = cnt * pq;
                  for (int64_t j = 0; j < cnt; j++)
                    im2col(g, xs + (n0 + j) * g.chw(), 0, g.P, s.col.get() + j * pq, ld);
                  sgemm(g.K, ld, crs, 1.f, ws, crs, 1, s.col.get(), ld, 1, 0.f, s.mat.get(), ld, 1);
                  for (int64_t j = 0; j < cnt; j++)
                    for (int64_t k = 0; k < g.K; k++) {
                      const float* src = s.mat.get() + k * ld + j * pq;
                      float* dst = y + ((n0 + j) * g.K + k) * pq;
                      const float b = bs ? bs[k] : 0.f;
                      for (int64_t q = 0; q < pq; q++) dst[q] = bs ? src[q] + b : src[q];
                    }
                },
                [](GroupScratch&) {});
    return out.finish();
  }
  over_images(
      g.N, [&] { return scratch_floats(g.col_floats()); },
      [&](int64_t n, Scratch& col) {
        float* yn = y + n * g.K * pq;
        if (bs)
          for (int64_t k = 0; k < g.K; k++) std::fill(yn + k * pq, yn + (k + 1) * pq, bs[k]);
        for (int64_t oh0 = 0; oh0 < g.P; oh0 += g.band) {
          const int64_t oh1 = std::min(g.P, oh0 + g.band), cols = (oh1 - oh0) * g.Q;
          const float* src = xs + n * g.chw();  // direct: the band is the whole image
          if (!g.direct()) {
            im2col(g, src, oh0, oh1, col.get());
            src = col.get();
          }
          sgemm(g.K, cols, crs, 1.f, ws, crs, 1, src, cols, 1, bs ? 1.f : 0.f, yn + oh0 * g.Q, pq, 1);
        }
      },
      [](Scratch&) {});
  return out.finish();
}

Tensor CpuBackend::conv2d_backward_data(const Tensor& dy, const Tensor& w, const Shape& x_shape,
                                        const Conv2dParams& p) {
  const ConvGeom g = geometry("conv2dBackwardData", x_shape, w.shape, p);
  std::vector<float> hdy, hw;
  const float* dys = f32_view(dy, hdy);
  const float* ws = f32_view(w, hw);
  F32Result out(*this, x_shape, dy.dtype, dy.layout);
  float* dx = out.data();
  const int64_t crs = g.crs(), pq = g.pq();
  if (cpu_conv::direct3x3_applies(g)) {  // dx = dy convolved with w transposed and rotated
    direct3x3_batch(g, dys, true, ws, nullptr, dx);
    return out.finish();
  }
  if (cpu_conv::taps_apply(g)) {
    cpu_conv::taps_backward_data(g, dys, ws, dx);
    return out.finish();
  }
  if (const int64_t per = images_per_gemm(g); per > 1) {
    over_images((g.N + per - 1) / per,
                [&] {
                  return GroupScratch{scratch_floats(crs * per * pq), scratch_floats(g.K * per * pq)};
                },
                [&](int64_t gi, GroupScratch& s) {
                  const int64_t n0 = gi * per, cnt = std::min(per, g.N - n0), ld = cnt * pq;
                  for (int64_t j = 0; j < cnt; j++)
                    for (int64_t k = 0; k < g.K; k++) {
                      const float* src = dys + ((n0 + j) * g.K + k) * pq;
                      std::copy(src, src + pq, s.mat.get() + k * ld + j * pq);
                    }
                  sgemm(crs, ld, g.K, 1.f, ws, 1, crs, s.mat.get(), ld, 1, 0.f, s.col.get(), ld, 1);
                  for (int64_t j = 0; j < cnt; j++) {
                    float* dxn = dx + (n0 + j) * g.chw();
                    std::fill(dxn, dxn + g.chw(), 0.f);
                    col2im(g, s.col.get() + j * pq, 0, g.P, dxn, ld);
                  }
                },
                [](GroupScratch&) {});
    return out.finish();
  }
  over_images(
      g.N, [&] { return scratch_floats(g.col_floats()); },
      [&](int64_t n, Scratch& dcol) {
        float* dxn = dx + n * g.chw();
        const float* dyn = dys + n * g.K * pq;
        if (g.direct()) {
          sgemm(crs, pq, g.K, 1.f, ws, 1, crs, dyn, pq, 1, 0.f, dxn, pq, 1);
          return;
        }
        std::fill(dxn, dxn + g.chw(), 0.f);
        for (int64_t oh0 = 0; oh0 < g.P; oh0 += g.band) {
          const int64_t oh1 = std::min(g.P, oh0 + g.band), cols = (oh1 - oh0) * g.Q;
          // dcol = w^T . dy_n[:, band]: w read as [CRS, K] through swapped strides.
          sgemm(crs, cols, g.K, 1.f, ws, 1, crs, dyn + oh0 * g.Q, pq, 1, 0.f, dcol.get(), cols, 1);
          col2im(g, dcol.get(), oh0, oh1, dxn);
        }
      },
      [](Scratch&) {});
  return out.finish();
}

Tensor CpuBackend::conv2d_backward_filter(const Tensor& dy, const Tensor& x, const Shape& w_shape,
                                          const Conv2dParams& p) {
  const ConvGeom g = geometry("conv2dBackwardFilter", x.shape, w_shape, p);
  std::vector<float> hdy, hx;
  const float* dys = f32_view(dy, hdy);
  const float* xs = f32_view(x, hx);
  F32Result out(*this, w_shape, x.dtype, x.layout);
  float* dw = out.data();
  const int64_t crs = g.crs(), pq = g.pq(), kcrs = g.K * crs;
  // A fixed split of the images into kFilterRuns contiguous runs, each summed into a
  // private dw, then the runs added in order: the same sum on every call and at every
  // thread count (dynamic image scheduling made training runs differ in the last bits).
  // Which worker sums which run does not matter, so runs are handed out from a shared
  // counter: with more runs than workers, a worker slowed by a busy core takes fewer
  // instead of keeping the other waiting at the end.
  constexpr int64_t kFilterRuns = 8;
  const int64_t per = pq >= kSmallImage ? 1 : std::clamp<int64_t>(kBatchColumns / pq, 1, g.N);
  const int64_t runs = std::min<int64_t>(kFilterRuns, (g.N + per - 1) / per);
  if (cpu_conv::filter3x3_applies(g)) {  // the direct kernel: whole images, a group at a time
    // Runs sum filters-last; the sums are added in run order and reordered into dw once
    // (per run, reordering a 256 x 256 x 9 sum cost about as much as computing it at 4x4).
    const int64_t group = cpu_conv::filter3x3_group(g), sum_floats = cpu_conv::filter3x3_sum_floats(g.C, g.K);
    const int64_t dy_image = g.K * pq, x_image = g.chw();
    std::vector<Scratch> sums(static_cast<size_t>(runs));
    for (auto& sum : sums) sum = scratch_floats(sum_floats);
    std::atomic<int64_t> next{0};
    parallel_for(std::min<int64_t>(cpu_threads(), runs), 1, [&](int64_t, int64_t) {
      const Scratch copy = scratch_floats(cpu_conv::filter3x3_copy_floats(g, group));
      for (int64_t r = next.fetch_add(1); r < runs; r = next.fetch_add(1)) {
        float* sum = sums[static_cast<size_t>(r)].get();
        std::fill(sum, sum + sum_floats, 0.f);
        const int64_t n_end = (r + 1) * g.N / runs;
        for (int64_t n0 = r * g.N / runs; n0 < n_end; n0 += group)
          cpu_conv::filter3x3_images(dys + n0 * dy_image, xs + n0 * x_image, std::min(group, n_end - n0), g.C, g.K, g.H,
                                     g.W, copy.get(), sum);
      }
    });
    float* total = sums[0].get();
    for (int64_t r = 1; r < runs; r++) {
      const float* sum = sums[static_cast<size_t>(r)].get();
      for (int64_t i = 0; i < sum_floats; i++) total[i] += sum[i];
    }
    cpu_conv::filter3x3_finish(total, g.C, g.K, dw);
    return out.finish();
  }
  // Run 0 sums straight into dw (0 + part0 is part0 exactly), the others into cached buffers.
  // (The direct kernel above writes all of dw; only this path accumulates into it.)
  std::fill(dw, dw + kcrs, 0.f);
  std::vector<Scratch> parts(static_cast<size_t>(runs));
  for (int64_t r = 1; r < runs; r++) parts[static_cast<size_t>(r)] = scratch_floats(kcrs);
  std::atomic<int64_t> next{0};
  parallel_for(std::min<int64_t>(cpu_threads(), runs), 1, [&](int64_t, int64_t) {
    const Scratch col = scratch_floats(per > 1 ? crs * per * pq : g.col_floats());
    const Scratch dyb = scratch_floats(per > 1 ? g.K * per * pq : 0);
    for (int64_t r = next.fetch_add(1); r < runs; r = next.fetch_add(1)) {
      float* part = r == 0 ? dw : parts[static_cast<size_t>(r)].get();
      if (r > 0) std::fill(part, part + kcrs, 0.f);
      const int64_t n_end = (r + 1) * g.N / runs;
      if (per > 1) {  // small images: whole images, several per GEMM
        for (int64_t n0 = r * g.N / runs; n0 < n_end; n0 += per) {
          const int64_t cnt = std::min(per, n_end - n0), ld = cnt * pq;
          for (int64_t j = 0; j < cnt; j++) {
            const float* xn = xs + (n0 + j) * g.chw();
            if (g.direct()) {
              for (int64_t c = 0; c < g.C; c++) std::copy(xn + c * pq, xn + (c + 1) * pq, col.get() + c * ld + j * pq);
            } else {
              im2col(g, xn, 0, g.P, col.get() + j * pq, ld);
            }
            for (int64_t k = 0; k < g.K; k++) {
              const float* src = dys + ((n0 + j) * g.K + k) * pq;
              std::copy(src, src + pq, dyb.get() + k * ld + j * pq);
            }
          }
          sgemm(g.K, crs, ld, 1.f, dyb.get(), ld, 1, col.get(), 1, ld, 1.f, part, crs, 1);
        }
        continue;
      }
      for (int64_t n = r * g.N / runs; n < n_end; n++) {
        for (int64_t oh0 = 0; oh0 < g.P; oh0 += g.band) {
          const int64_t oh1 = std::min(g.P, oh0 + g.band), cols = (oh1 - oh0) * g.Q;
          const float* src = xs + n * g.chw();
          if (!g.direct()) {
            im2col(g, src, oh0, oh1, col.get());
            src = col.get();
          }
          // part += dy_n[:, band] . col^T: col read as [cols, CRS] through swapped strides.
          sgemm(g.K, crs, cols, 1.f, dys + n * g.K * pq + oh0 * g.Q, pq, 1, src, 1, cols, 1.f, part, crs, 1);
        }
      }
    }
  });
  for (int64_t r = 1; r < runs; r++) {
    const float* part = parts[static_cast<size_t>(r)].get();
    for (int64_t i = 0; i < kcrs; i++) dw[i] += part[i];
  }
  return out.finish();
}

Tensor CpuBackend::conv2d_backward_bias(const Tensor& dy) {
  std::vector<float> hdy;
  const float* dys = f32_view(dy, hdy);
  const int64_t N = dy.shape[0], K = dy.shape[1], pq = dy.shape[2] * dy.shape[3];
  Tensor db = empty({K}, DType::F32, Layout::NCHW);
  float* out = db.data<float>();
  parallel_for(K, 1, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; k++) {
      double s = 0;  // N * P * Q terms: fp32 partial sums per image, summed in double
      for (int64_t n = 0; n < N; n++) {
        const float* row = dys + (n * K + k) * pq;
        float part = 0.f;
        for (int64_t i = 0; i < pq; i++) part += row[i];
        s += part;
      }
      out[k] = static_cast<float>(s);
    }
  });
  return db;
}

}  // namespace cr
