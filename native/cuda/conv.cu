// cuDNN convolution (forward, backward data, backward filter): descriptors, the real
// conv::Device, and the ops. Which algorithm runs, what is cached and when to give up is
// decided in policy/conv.cpp (tested without a GPU); this file only carries it out. Part of
// the cuDNN module with batchnorm.cu and pooling.cu.
#include <atomic>
#include <cstdio>

#include "dnn_util.h"
#include "kernels/kernels.h"
#include "policy/conv.h"

namespace cr {
namespace cuda {
namespace {

using namespace dnn;
using namespace dnnu;
using conv::Pass;

// The context's allocator, workspace and capture state, as the search sees them.
class ContextDevice final : public conv::Device {
 public:
  ContextDevice(DeviceContext& ctx, const char* op) : ctx_(ctx), op_(op) {}
  int index() const override { return ctx_.index; }
  bool capturing() const override { return cuda::capturing(ctx_); }
  size_t workspace_bytes() const override { return ctx_.workspace_bytes(); }
  void* workspace(size_t bytes) override { return ctx_.workspace(bytes, op_); }
  void* scratch(size_t bytes) override {
    try {
      return ctx_.alloc.allocate(bytes, op_, "the algorithm search");
    } catch (const OpError& e) {
      if (e.kind() != ErrorKind::OutOfMemory) throw;
      return nullptr;
    }
  }
  // Freed, not cached: it may be gigabytes that no tensor will reuse. The search has just
  // synchronised the device, so the extra synchronisation of cudaFree costs nothing.
  void release_scratch(void* p) override { ctx_.alloc.release_and_free(p); }
  size_t free_memory() override {
    size_t free_b = 0, total_b = 0;
    if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) cudaGetLastError();
    return free_b;
  }
  void empty_cache() override { ctx_.alloc.empty_cache(); }

 private:
  DeviceContext& ctx_;
  const char* op_;
};

// Convolutions that ran in NCHW because cuDNN refused every algorithm for NHWC.
std::atomic<int64_t> g_nchw_fallbacks{0};

// One call: x/w/y in cuDNN's naming (for the backward passes dx resp. dw is the output).
// With `search_only`, only makes sure an algorithm is chosen (see conv::prepare).
template <Pass P>
bool run_pass(DeviceContext& ctx, const Tensor& x, const Tensor& w, const Tensor& y, const Conv2dParams& p,
              bool accumulate, const char* op, const std::string& detail, bool search_only = false) {
  const Tensor& ref = P == Pass::BwdData ? y : x;
  const DType dt = ref.dtype;
  const Layout ly = ref.layout;
  TensorDesc xd, yd;
  FilterDesc wd;
  ConvDesc cd;
  set_tensor(xd, x, op);
  set_tensor(yd, y, op);
  set_filter(wd, w.shape, dt, ly, op);
  CR_CUDNN_CHECK(A().cudnnSetConvolution2dDescriptor(cd, p.pad_h, p.pad_w, p.stride_h, p.stride_w, p.dilation_h,
                                                     p.dilation_w, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
                 op, detail);
  conv::Operands o;
  o.handle = ctx.handle;
  o.xd = xd;
  o.yd = yd;
  o.wd = wd;
  o.cd = cd;
  o.x = x.raw();
  o.w = w.raw();
  o.y = y.raw();
  o.accumulate = accumulate;
  // fp32 without TF32 must stay on FMA units (cuDNN's default math may pick TF32 on Ampere+).
  o.math = dt == DType::F32 && !p.allow_tf32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH;
  conv::Key k;
  k.device = ctx.index;
  k.pass = static_cast<int32_t>(P);
  for (int i = 0; i < 4; i++) {
    k.x[i] = x.shape[i];
    k.w[i] = w.shape[i];
    k.y[i] = y.shape[i];
  }
  k.pad[0] = p.pad_h, k.pad[1] = p.pad_w;
  k.stride[0] = p.stride_h, k.stride[1] = p.stride_w;
  k.dil[0] = p.dilation_h, k.dil[1] = p.dilation_w;
  k.dtype = static_cast<int32_t>(dt);
  k.layout = static_cast<int32_t>(ly);
  k.math = static_cast<int32_t>(o.math);
  k.accumulate = accumulate ? 1 : 0;
  ContextDevice dev(ctx, op);
  if (search_only) {
    conv::prepare<P>(A(), o, dev, conv::algo_cache(), k, op, detail);
    return true;
  }
  return conv::run<P>(A(), o, dev, conv::algo_cache(), k, op, detail);
}

// Runs pass P writing `out` (y, x or w per pass). When cuDNN refuses every algorithm for an
// NHWC configuration (fp32 with FMA math may have no NHWC engine on some GPUs), it runs once
// more on NCHW copies, counted in the algorithm report.
template <Pass P>
void convolve(DeviceContext& ctx, const Tensor& x, const Tensor& w, const Tensor& y, const Conv2dParams& p,
              bool accumulate, const char* op, const std::string& detail) {
  if (run_pass<P>(ctx, x, w, y, p, accumulate, op, detail)) return;
  const Tensor& out = P == Pass::Fwd ? y : P == Pass::BwdData ? x : w;
  if (out.layout == Layout::NHWC) {
    g_nchw_fallbacks++;
    auto nchw = [&](const Tensor& t, bool is_out) {
      return is_out ? new_tensor(ctx, t.shape, t.dtype, Layout::NCHW, op)
                    : to_format(ctx, t, t.dtype, Layout::NCHW, op);
    };
    Tensor xn = nchw(x, P == Pass::BwdData), wn = nchw(w, P == Pass::BwdFilter), yn = nchw(y, P == Pass::Fwd);
    if (accumulate) {  // the output's contents (the bias) join it only after the search
      run_pass<P>(ctx, xn, wn, yn, p, accumulate, op, detail, true);
      ctx.backend.copy_(yn, to_format(ctx, y, y.dtype, Layout::NCHW, op));
    }
    if (run_pass<P>(ctx, xn, wn, yn, p, accumulate, op, detail + " (retried in NCHW)")) {
      const Tensor& res = P == Pass::Fwd ? yn : P == Pass::BwdData ? xn : wn;
      ctx.backend.copy_(out, to_format(ctx, res, out.dtype, out.layout, op));
      return;
    }
  }
  throw OpError(ErrorKind::Runtime, std::string(op) + ": cuDNN refused every convolution algorithm for " + detail,
                "ERR_CUDNN");
}

}  // namespace

std::vector<std::string> conv_algorithm_report() {
  std::vector<std::string> out;
  for (const auto& kv : conv::algo_cache().snapshot()) {
    const conv::Key& k = kv.first;
    const conv::Candidate& c = kv.second.ranked.front();
    Pass pass = static_cast<Pass>(k.pass);
    char buf[512];
    snprintf(buf, sizeof buf,
             "%s x[%lld,%lld,%lld,%lld] w[%lld,%lld,%lld,%lld] stride %d pad %d %s %s math=%d%s: %s (algo math %d, "
             "ws %zu B, %.3f ms%s)",
             conv::pass_name(pass), (long long)k.x[0], (long long)k.x[1], (long long)k.x[2], (long long)k.x[3],
             (long long)k.w[0], (long long)k.w[1], (long long)k.w[2], (long long)k.w[3], k.stride[0], k.pad[0],
             dtype_name(static_cast<DType>(k.dtype)), layout_name(static_cast<Layout>(k.layout)), k.math,
             k.accumulate ? " beta=1" : "", conv::algo_name(pass, c.algo), static_cast<int>(c.math), c.memory,
             c.time_ms, kv.second.searched ? "" : ", heuristics only: the search was declined");
    out.push_back(buf);
  }
  if (int64_t n = g_nchw_fallbacks.load())
    out.push_back("NHWC -> NCHW fallbacks: " + std::to_string(n) +
                  " convolutions ran in NCHW because cuDNN refused every NHWC algorithm");
  return out;
}

}  // namespace cuda

std::vector<std::string> cuda_conv_algorithms() { return cuda::conv_algorithm_report(); }

// ---------------------------------------------------------------- conv ops

static std::string conv_detail(const Tensor& a, const char* an, const Tensor& b, const char* bn,
                               const Conv2dParams& p) {
  return std::string(an) + " " + a.describe() + ", " + bn + " " + b.describe() + ", stride " +
         std::to_string(p.stride_h) + "x" + std::to_string(p.stride_w) + ", pad " + std::to_string(p.pad_h) + "x" +
         std::to_string(p.pad_w) + ", dilation " + std::to_string(p.dilation_h) + "x" + std::to_string(p.dilation_w) +
         (p.allow_tf32 ? ", tf32" : "");
}

Tensor CudaBackend::conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, const Conv2dParams& p) {
  cuda::DeviceGuard g(ctx_->index);
  const char* op = "conv2dForward";
  // A 16-bit output with a bias of another dtype: cuDNN's legacy API only writes 16-bit
  // outputs, so adding the bias to one would round twice. Convolve in fp32 (the products of
  // 16-bit values are exact in fp32, and FMA math keeps them so), add the bias, and round
  // once, as the CPU does. Rare: ResNet convolutions carry no bias.
  if (bias && x.dtype != DType::F32 && bias->dtype != x.dtype) {
    Conv2dParams p32 = p;
    p32.allow_tf32 = false;
    Tensor y32 = conv2d_forward(cuda::to_format(*ctx_, x, DType::F32, x.layout, op),
                                cuda::to_format(*ctx_, w, DType::F32, x.layout, op), bias, p32);
    return cuda::to_format(*ctx_, y32, x.dtype, x.layout, op);
  }
  int64_t N = x.dim(0), K = w.dim(0);
  int64_t Ho = conv_out_size(x.dim(2), w.dim(2), p.stride_h, p.pad_h, p.dilation_h);
  int64_t Wo = conv_out_size(x.dim(3), w.dim(3), p.stride_w, p.pad_w, p.dilation_w);
  const std::string detail = conv_detail(x, "x", w, "w", p);
  Tensor wc = cuda::to_format(*ctx_, w, x.dtype, x.layout, op);
  Tensor y = cuda::new_tensor(*ctx_, {N, K, Ho, Wo}, x.dtype, x.layout, op);
  // A 16-bit bias (exact in y) goes in first and cuDNN adds the convolution to it in fp32
  // (beta = 1): one rounding. An fp32 output takes the bias afterwards (fp32 + fp32, one
  // rounding too).
  const bool bias_first = bias && x.dtype != DType::F32;
  if (bias_first) {
    // A first search scribbles on y: before y holds the bias.
    cuda::run_pass<cuda::conv::Pass::Fwd>(*ctx_, x, wc, y, p, true, op, detail, true);
    CR_CUDA_CHECK(cudaMemsetAsync(y.raw(), 0, y.nbytes(), ctx_->stream), op, detail);
    cuda::bias_add_(*ctx_, y, *bias, op);
  }
  cuda::convolve<cuda::conv::Pass::Fwd>(*ctx_, x, wc, y, p, bias_first, op, detail);
  if (bias && !bias_first) cuda::bias_add_(*ctx_, y, *bias, op);
  return y;
}

Tensor CudaBackend::conv2d_backward_data(const Tensor& dy, const Tensor& w, const Shape& x_shape,
                                         const Conv2dParams& p) {
  cuda::DeviceGuard g(ctx_->index);
  const char* op = "conv2dBackwardData";
  const std::string detail = conv_detail(dy, "dy", w, "w", p) + ", x shape " + shape_str(x_shape);
  Tensor wc = cuda::to_format(*ctx_, w, dy.dtype, dy.layout, op);
  Tensor dx = cuda::new_tensor(*ctx_, x_shape, dy.dtype, dy.layout, op);
  cuda::convolve<cuda::conv::Pass::BwdData>(*ctx_, dx, wc, dy, p, false, op, detail);
  return dx;
}

Tensor CudaBackend::conv2d_backward_filter(const Tensor& dy, const Tensor& x, const Shape& w_shape,
                                           const Conv2dParams& p) {
  cuda::DeviceGuard g(ctx_->index);
  const char* op = "conv2dBackwardFilter";
  const std::string detail = conv_detail(dy, "dy", x, "x", p) + ", w shape " + shape_str(w_shape);
  // dw takes x's dtype and layout, as on the CPU.
  Tensor dyc = cuda::to_format(*ctx_, dy, x.dtype, x.layout, op);
  Tensor dw = cuda::new_tensor(*ctx_, w_shape, x.dtype, x.layout, op);
  cuda::convolve<cuda::conv::Pass::BwdFilter>(*ctx_, x, dw, dyc, p, false, op, detail);
  return dw;
}

Tensor CudaBackend::conv2d_backward_bias(const Tensor& dy) {
  cuda::DeviceGuard g(ctx_->index);
  return cuda::channel_sum(*ctx_, dy, "conv2dBackwardBias");
}

}  // namespace cr
