// cuDNN convolution (forward, backward data, backward filter) with a per-shape algorithm
// cache. Part of the cuDNN module with batchnorm.cu and pooling.cu; descriptors are RAII (common.h) and every
// status goes through CR_CUDNN_CHECK with the op's shapes.
//
// Algorithm choice follows PyTorch's benchmark mode: the first call for a parameter tuple
// asks cuDNN's heuristics for candidates (Get*_v7), sizes a workspace for them, times them
// with Find*Ex, and caches the ranked list; later calls run the fastest and fall back to the
// next one when an algorithm fails or its workspace cannot be had.
#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>

#include "dnn_util.h"
#include "kernels/kernels.h"

namespace cr {
namespace cuda {
namespace {

using namespace dnn;
using namespace dnnu;

// ---------------------------------------------------------------- convolution

enum class ConvKind { Fwd = 0, BwdData = 1, BwdFilter = 2 };
const char* kind_name(ConvKind k) { return k == ConvKind::Fwd ? "fwd" : k == ConvKind::BwdData ? "bwd-data" : "bwd-filter"; }

struct ConvKey {
  int device, kind;
  int64_t x[4], w[4], y[4];
  int pad[2], stride[2], dil[2];
  int dtype, layout, math, reserved = 0;  // no padding bytes: the key is compared with memcmp
  bool operator<(const ConvKey& o) const { return std::memcmp(this, &o, sizeof(ConvKey)) < 0; }
};

struct Candidate {
  int algo;
  size_t memory;
  cudnnMathType_t math;
  float time_ms;
};

struct ConvCache {
  std::mutex mu;
  std::map<ConvKey, std::vector<Candidate>> map;
};
ConvCache& conv_cache() {
  static ConvCache* c = new ConvCache();
  return *c;
}

const char* fwd_algo_name(int a) {
  static const char* n[] = {"IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT", "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
  return a >= 0 && a < 8 ? n[a] : "?";
}
const char* bwd_data_algo_name(int a) {
  static const char* n[] = {"ALGO_0", "ALGO_1", "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
  return a >= 0 && a < 6 ? n[a] : "?";
}
const char* bwd_filter_algo_name(int a) {
  static const char* n[] = {"ALGO_0", "ALGO_1", "FFT", "ALGO_3", "WINOGRAD", "WINOGRAD_NONFUSED", "FFT_TILING"};
  return a >= 0 && a < 7 ? n[a] : "?";
}
const char* algo_name(ConvKind k, int a) {
  return k == ConvKind::Fwd ? fwd_algo_name(a) : k == ConvKind::BwdData ? bwd_data_algo_name(a) : bwd_filter_algo_name(a);
}

// Everything one convolution call needs, descriptors included.
struct ConvSetup {
  ConvKind kind;
  Tensor x, w, y;  // x/w/y in cuDNN's naming; for backward passes one of them is the output
  TensorDesc xd, yd;
  FilterDesc wd;
  ConvDesc cd;
  cudnnMathType_t math;
  ConvKey key{};
  std::string detail;
  bool accumulate = false;  // forward only: y = conv(x, w) + y (cuDNN's beta = 1)
};

void setup_conv(ConvSetup& s, const Conv2dParams& p, const char* op) {
  const Tensor& ref = s.kind == ConvKind::BwdData ? s.y : s.x;
  DType dt = ref.dtype;
  Layout ly = ref.layout;
  set_tensor(s.xd, s.x, op);
  set_tensor(s.yd, s.y, op);
  set_filter(s.wd, s.w.shape, dt, ly, op);
  CR_CUDNN_CHECK(A().cudnnSetConvolution2dDescriptor(s.cd, p.pad_h, p.pad_w, p.stride_h, p.stride_w, p.dilation_h,
                                                     p.dilation_w, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
                 op, s.detail);
  // fp32 without TF32 must stay on FMA units (cuDNN's default math may pick TF32 on Ampere+).
  s.math = dt == DType::F32 ? (p.allow_tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH) : CUDNN_TENSOR_OP_MATH;
  CR_CUDNN_CHECK(A().cudnnSetConvolutionMathType(s.cd, s.math), op, s.detail);
  ConvKey& k = s.key;
  k.device = 0;
  k.kind = static_cast<int>(s.kind);
  for (int i = 0; i < 4; i++) {
    k.x[i] = s.x.shape[i];
    k.w[i] = s.w.shape[i];
    k.y[i] = s.y.shape[i];
  }
  k.pad[0] = p.pad_h; k.pad[1] = p.pad_w;
  k.stride[0] = p.stride_h; k.stride[1] = p.stride_w;
  k.dil[0] = p.dilation_h; k.dil[1] = p.dilation_w;
  k.dtype = static_cast<int>(dt);
  k.layout = static_cast<int>(ly);
  k.math = static_cast<int>(s.math);
}

size_t workspace_for(ConvSetup& s, DeviceContext& ctx, int algo) {
  size_t bytes = 0;
  cudnnStatus_t st;
  if (s.kind == ConvKind::Fwd)
    st = A().cudnnGetConvolutionForwardWorkspaceSize(ctx.handle, s.xd, s.wd, s.cd, s.yd,
                                                     static_cast<cudnnConvolutionFwdAlgo_t>(algo), &bytes);
  else if (s.kind == ConvKind::BwdData)
    st = A().cudnnGetConvolutionBackwardDataWorkspaceSize(ctx.handle, s.wd, s.yd, s.cd, s.xd,
                                                          static_cast<cudnnConvolutionBwdDataAlgo_t>(algo), &bytes);
  else
    st = A().cudnnGetConvolutionBackwardFilterWorkspaceSize(ctx.handle, s.xd, s.yd, s.cd, s.wd,
                                                            static_cast<cudnnConvolutionBwdFilterAlgo_t>(algo), &bytes);
  return st == CUDNN_STATUS_SUCCESS ? bytes : SIZE_MAX;
}

cudnnStatus_t run_algo(ConvSetup& s, DeviceContext& ctx, int algo, void* ws, size_t ws_bytes) {
  if (s.kind == ConvKind::Fwd)
    return A().cudnnConvolutionForward(ctx.handle, &kOne, s.xd, s.x.raw(), s.wd, s.w.raw(), s.cd,
                                       static_cast<cudnnConvolutionFwdAlgo_t>(algo), ws, ws_bytes,
                                       s.accumulate ? &kOne : &kZero, s.yd,
                                       s.y.raw());
  if (s.kind == ConvKind::BwdData)
    return A().cudnnConvolutionBackwardData(ctx.handle, &kOne, s.wd, s.w.raw(), s.yd, s.y.raw(), s.cd,
                                            static_cast<cudnnConvolutionBwdDataAlgo_t>(algo), ws, ws_bytes, &kZero,
                                            s.xd, s.x.raw());
  return A().cudnnConvolutionBackwardFilter(ctx.handle, &kOne, s.xd, s.x.raw(), s.yd, s.y.raw(), s.cd,
                                            static_cast<cudnnConvolutionBwdFilterAlgo_t>(algo), ws, ws_bytes, &kZero,
                                            s.wd, s.w.raw());
}

// Heuristic candidates, then a timed search among those whose workspace fits.
std::vector<Candidate> search(ConvSetup& s, DeviceContext& ctx, const char* op) {
  constexpr int kMax = 8;
  std::vector<Candidate> heur;
  int got = 0;
  auto take = [&](auto* perf, int n) {
    for (int i = 0; i < n; i++)
      if (perf[i].status == CUDNN_STATUS_SUCCESS)
        heur.push_back(Candidate{static_cast<int>(perf[i].algo), perf[i].memory, perf[i].mathType, perf[i].time});
  };
  if (s.kind == ConvKind::Fwd) {
    cudnnConvolutionFwdAlgoPerf_t perf[kMax];
    CR_CUDNN_CHECK(A().cudnnGetConvolutionForwardAlgorithm_v7(ctx.handle, s.xd, s.wd, s.cd, s.yd, kMax, &got, perf), op, s.detail);
    take(perf, got);
  } else if (s.kind == ConvKind::BwdData) {
    cudnnConvolutionBwdDataAlgoPerf_t perf[kMax];
    CR_CUDNN_CHECK(A().cudnnGetConvolutionBackwardDataAlgorithm_v7(ctx.handle, s.wd, s.yd, s.cd, s.xd, kMax, &got, perf), op, s.detail);
    take(perf, got);
  } else {
    cudnnConvolutionBwdFilterAlgoPerf_t perf[kMax];
    CR_CUDNN_CHECK(A().cudnnGetConvolutionBackwardFilterAlgorithm_v7(ctx.handle, s.xd, s.yd, s.cd, s.wd, kMax, &got, perf), op, s.detail);
    take(perf, got);
  }
  // Workspace for the search: the largest any candidate wants, within a quarter of free memory.
  size_t free_b = 0, total_b = 0;
  cudaMemGetInfo(&free_b, &total_b);
  cudaGetLastError();
  size_t limit = std::max<size_t>(free_b / 4, ctx.workspace_bytes());
  size_t want = 0;
  for (const auto& c : heur)
    if (c.memory <= limit) want = std::max(want, c.memory);
  void* ws = nullptr;
  size_t ws_bytes = 0;
  if (want > 0) {
    try {
      ws = ctx.workspace(want, op);
      ws_bytes = want;
    } catch (const OpError&) {
      ws = nullptr;  // search without workspace: only zero-workspace algorithms will be timed
    }
  }
  std::vector<Candidate> found;
  cudnnStatus_t st;
  if (s.kind == ConvKind::Fwd) {
    cudnnConvolutionFwdAlgoPerf_t perf[kMax];
    st = A().cudnnFindConvolutionForwardAlgorithmEx(ctx.handle, s.xd, s.x.raw(), s.wd, s.w.raw(), s.cd, s.yd,
                                                    s.y.raw(), kMax, &got, perf, ws, ws_bytes);
    if (st == CUDNN_STATUS_SUCCESS)
      for (int i = 0; i < got; i++)
        if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= ws_bytes)
          found.push_back(Candidate{static_cast<int>(perf[i].algo), perf[i].memory, perf[i].mathType, perf[i].time});
  } else if (s.kind == ConvKind::BwdData) {
    cudnnConvolutionBwdDataAlgoPerf_t perf[kMax];
    st = A().cudnnFindConvolutionBackwardDataAlgorithmEx(ctx.handle, s.wd, s.w.raw(), s.yd, s.y.raw(), s.cd, s.xd,
                                                         s.x.raw(), kMax, &got, perf, ws, ws_bytes);
    if (st == CUDNN_STATUS_SUCCESS)
      for (int i = 0; i < got; i++)
        if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= ws_bytes)
          found.push_back(Candidate{static_cast<int>(perf[i].algo), perf[i].memory, perf[i].mathType, perf[i].time});
  } else {
    cudnnConvolutionBwdFilterAlgoPerf_t perf[kMax];
    st = A().cudnnFindConvolutionBackwardFilterAlgorithmEx(ctx.handle, s.xd, s.x.raw(), s.yd, s.y.raw(), s.cd, s.wd,
                                                           s.w.raw(), kMax, &got, perf, ws, ws_bytes);
    if (st == CUDNN_STATUS_SUCCESS)
      for (int i = 0; i < got; i++)
        if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= ws_bytes)
          found.push_back(Candidate{static_cast<int>(perf[i].algo), perf[i].memory, perf[i].mathType, perf[i].time});
  }
  // Without TF32 permission, drop anything that would use tensor cores on fp32 data.
  auto forbidden = [&](const Candidate& c) {
    return s.math == CUDNN_FMA_MATH && c.math != CUDNN_FMA_MATH && c.math != CUDNN_DEFAULT_MATH;
  };
  found.erase(std::remove_if(found.begin(), found.end(), forbidden), found.end());
  heur.erase(std::remove_if(heur.begin(), heur.end(), forbidden), heur.end());
  // The heuristics' remaining suggestions follow the timed ones, as further fallbacks.
  for (const auto& h : heur) {
    bool dup = false;
    for (const auto& f : found) dup = dup || f.algo == h.algo;
    if (!dup) found.push_back(Candidate{h.algo, h.memory, h.math, -1.f});
  }
  // Implicit GEMM needs no workspace and supports every configuration: the last resort.
  bool has0 = false;
  for (const auto& f : found) has0 = has0 || f.algo == 0;
  if (!has0) found.push_back(Candidate{0, 0, s.math, -1.f});
  return found;
}

// Runs the candidates in order until one succeeds (true). Each failure is appended to
// `failures`; `out_of_memory` tells whether any was for want of memory (our workspace, or
// cuDNN's own allocations). When the ones before the winner were refused for this shape,
// the winner moves to the front of the cache; after a transient failure (memory, an
// internal error) the faster candidates stay, to be tried again next time.
bool try_candidates(ConvSetup& s, DeviceContext& ctx, ConvCache& cache, const std::vector<Candidate>& cands,
                    const char* op, cudnnStatus_t& last, std::string& failures, bool& out_of_memory) {
  bool transient = false;
  for (size_t i = 0; i < cands.size(); i++) {
    const Candidate& c = cands[i];
    size_t need = c.memory;
    size_t exact = workspace_for(s, ctx, c.algo);
    if (exact != SIZE_MAX) need = std::max(need, exact);
    void* ws = nullptr;
    if (need > ctx.workspace_bytes() && ctx.capture_pool != cuda::kDefaultPool) {
      // The workspace cannot grow during a capture; a candidate that fits it may still run.
      transient = true;
      failures += std::string(" ") + algo_name(s.kind, c.algo) + ": needs a larger workspace than the capture has;";
      continue;
    }
    if (need > 0) {
      try {
        ws = ctx.workspace(need, op);
      } catch (const OpError& e) {
        if (e.kind() != ErrorKind::OutOfMemory) throw;
        out_of_memory = transient = true;
        failures += std::string(" ") + algo_name(s.kind, c.algo) + ": no memory for its workspace;";
        continue;
      }
    }
    // On Ampere and later DEFAULT_MATH admits TF32 for fp32 data; only FMA_MATH rules it out.
    A().cudnnSetConvolutionMathType(s.cd, s.math == CUDNN_FMA_MATH ? CUDNN_FMA_MATH : c.math);
    last = run_algo(s, ctx, c.algo, ws, need);
    if (last == CUDNN_STATUS_SUCCESS) {
      if (i > 0 && !transient) {  // remember the one that worked
        std::lock_guard<std::mutex> lock(cache.mu);
        cache.map[s.key] = std::vector<Candidate>(cands.begin() + i, cands.end());
      }
      return true;
    }
    out_of_memory = out_of_memory || last == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED;
    transient = transient || !refused(last);
    failures += std::string(" ") + algo_name(s.kind, c.algo) + ": " + A().cudnnGetErrorString(last) + ";";
  }
  return false;
}

// The ranked algorithms for s's shape: cached, or searched now. A search runs the candidates
// on s's buffers, so the output's contents are garbage afterwards.
std::vector<Candidate> conv_candidates(ConvSetup& s, DeviceContext& ctx, const char* op) {
  s.key.device = ctx.index;
  ConvCache& cache = conv_cache();
  {
    std::lock_guard<std::mutex> lock(cache.mu);
    auto it = cache.map.find(s.key);
    if (it != cache.map.end() && !it->second.empty()) return it->second;
  }
  // cudnnFind*Ex synchronises the device, which would silently invalidate a graph capture.
  throw_if_capturing(ctx, op,
                     "a cuDNN algorithm search for a convolution shape not seen before (run a warm-up step "
                     "before capturing)");
  std::vector<Candidate> cands = search(s, ctx, op);
  std::lock_guard<std::mutex> lock(cache.mu);
  cache.map[s.key] = cands;
  return cands;
}

void run_conv(ConvSetup& s, DeviceContext& ctx, const char* op) {
  ConvCache& cache = conv_cache();
  std::vector<Candidate> cands = conv_candidates(s, ctx, op);
  cudnnStatus_t last = CUDNN_STATUS_NOT_SUPPORTED;
  std::string failures;
  bool out_of_memory = false;
  if (try_candidates(s, ctx, cache, cands, op, last, failures, out_of_memory)) return;
  // Short of memory: the blocks cached for reuse go back to the driver and the candidates
  // run once more. Not during a capture: cudaFree synchronises, which a capture forbids.
  if (out_of_memory && ctx.capture_pool == cuda::kDefaultPool) {
    ctx.alloc.empty_cache();
    failures += " then, after emptying the allocator's cache:";
    if (try_candidates(s, ctx, cache, cands, op, last, failures, out_of_memory)) return;
  }
  throw_cudnn(last, op, "every convolution algorithm failed:", failures + " " + s.detail);
}

}  // namespace

std::vector<std::string> conv_algorithm_report() {
  ConvCache& cache = conv_cache();
  std::lock_guard<std::mutex> lock(cache.mu);
  std::vector<std::string> out;
  for (const auto& kv : cache.map) {
    const ConvKey& k = kv.first;
    if (kv.second.empty()) continue;
    const Candidate& c = kv.second.front();
    ConvKind kind = static_cast<ConvKind>(k.kind);
    char buf[512];
    snprintf(buf, sizeof buf,
             "%s x[%lld,%lld,%lld,%lld] w[%lld,%lld,%lld,%lld] stride %d pad %d %s %s math=%d: %s (algo math %d, ws %zu B, %.3f ms)",
             kind_name(kind), (long long)k.x[0], (long long)k.x[1], (long long)k.x[2], (long long)k.x[3],
             (long long)k.w[0], (long long)k.w[1], (long long)k.w[2], (long long)k.w[3], k.stride[0], k.pad[0],
             dtype_name(static_cast<DType>(k.dtype)), layout_name(static_cast<Layout>(k.layout)),
             k.math, algo_name(kind, c.algo), static_cast<int>(c.math), c.memory, c.time_ms);
    out.push_back(buf);
  }
  return out;
}

}  // namespace cuda

std::vector<std::string> cuda_conv_algorithms() { return cuda::conv_algorithm_report(); }

// ---------------------------------------------------------------- conv ops

static std::string conv_detail(const Tensor& a, const char* an, const Tensor& b, const char* bn, const Conv2dParams& p) {
  return std::string(an) + " " + a.describe() + ", " + bn + " " + b.describe() + ", stride " +
         std::to_string(p.stride_h) + "x" + std::to_string(p.stride_w) + ", pad " + std::to_string(p.pad_h) + "x" +
         std::to_string(p.pad_w) + ", dilation " + std::to_string(p.dilation_h) + "x" + std::to_string(p.dilation_w) +
         (p.allow_tf32 ? ", tf32" : "");
}

Tensor CudaBackend::conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, const Conv2dParams& p) {
  cuda::DeviceGuard g(ctx_->index);
  const char* op = "conv2dForward";
  int64_t N = x.dim(0), K = w.dim(0);
  int64_t Ho = conv_out_size(x.dim(2), w.dim(2), p.stride_h, p.pad_h, p.dilation_h);
  int64_t Wo = conv_out_size(x.dim(3), w.dim(3), p.stride_w, p.pad_w, p.dilation_w);
  cuda::ConvSetup s;
  s.kind = cuda::ConvKind::Fwd;
  s.detail = conv_detail(x, "x", w, "w", p);
  s.x = x;
  s.w = cuda::to_format(*ctx_, w, x.dtype, x.layout, op);
  s.y = cuda::new_tensor(*ctx_, {N, K, Ho, Wo}, x.dtype, x.layout, op);
  cuda::setup_conv(s, p, op);
  // A 16-bit output must be rounded once, after the bias (as on the CPU): y starts as the
  // bias and cuDNN adds the convolution to it in fp32 (beta = 1). fp32 adds it afterwards.
  const bool bias_first = bias && x.dtype != DType::F32;
  if (bias_first) {
    cuda::conv_candidates(s, *ctx_, op);  // a first search scribbles on y: before y holds the bias
    CR_CUDA_CHECK(cudaMemsetAsync(s.y.raw(), 0, s.y.nbytes(), ctx_->stream), op, s.detail);
    cuda::bias_add_(*ctx_, s.y, *bias, op);
    s.accumulate = true;
  }
  cuda::run_conv(s, *ctx_, op);
  if (bias && !bias_first) cuda::bias_add_(*ctx_, s.y, *bias, op);
  return s.y;
}

Tensor CudaBackend::conv2d_backward_data(const Tensor& dy, const Tensor& w, const Shape& x_shape, const Conv2dParams& p) {
  cuda::DeviceGuard g(ctx_->index);
  const char* op = "conv2dBackwardData";
  cuda::ConvSetup s;
  s.kind = cuda::ConvKind::BwdData;
  s.detail = conv_detail(dy, "dy", w, "w", p) + ", x shape " + shape_str(x_shape);
  s.y = dy;
  s.w = cuda::to_format(*ctx_, w, dy.dtype, dy.layout, op);
  s.x = cuda::new_tensor(*ctx_, x_shape, dy.dtype, dy.layout, op);
  cuda::setup_conv(s, p, op);
  cuda::run_conv(s, *ctx_, op);
  return s.x;
}

Tensor CudaBackend::conv2d_backward_filter(const Tensor& dy, const Tensor& x, const Shape& w_shape, const Conv2dParams& p) {
  cuda::DeviceGuard g(ctx_->index);
  const char* op = "conv2dBackwardFilter";
  cuda::ConvSetup s;
  s.kind = cuda::ConvKind::BwdFilter;
  s.detail = conv_detail(dy, "dy", x, "x", p) + ", w shape " + shape_str(w_shape);
  // dw takes x's dtype and layout, as on the CPU.
  s.x = x;
  s.y = cuda::to_format(*ctx_, dy, x.dtype, x.layout, op);
  s.w = cuda::new_tensor(*ctx_, w_shape, x.dtype, x.layout, op);
  cuda::setup_conv(s, p, op);
  cuda::run_conv(s, *ctx_, op);
  return s.w;
}

Tensor CudaBackend::conv2d_backward_bias(const Tensor& dy) {
  cuda::DeviceGuard g(ctx_->index);
  return cuda::channel_sum(*ctx_, dy, "conv2dBackwardBias");
}

}  // namespace cr
