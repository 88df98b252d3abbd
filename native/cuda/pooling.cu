// Pooling: the forward passes and average pooling's backward through cuDNN; max pooling's
// backward is our own kernel. Its tie rule decides where a gradient goes when a window holds
// equal maxima (frequent in fp16/bf16): the CPU sends it to the first maximum in row-major
// window order, and cuDNN documents no tie rule for CUDNN_POOLING_MAX and offers
// CUDNN_POOLING_MAX_DETERMINISTIC without promising which maximum it picks, so the kernel
// below applies the CPU's rule, with the CPU's summation order, on every GPU.
#include "dnn_util.h"
#include "kernels/common.cuh"
#include "kernels/kernels.h"

namespace cr {

namespace {

using cuda::from_f;
using cuda::to_f;

struct PoolGeom {
  int64_t N, C, H, W, Ho, Wo;
  int kh, kw, sh, sw, ph, pw;
  bool nhwc;
};

// One thread per element of dx: it visits, in row-major (oh, ow) order, every window that
// holds it, recomputes that window's first maximum (strict >, so NaN never wins and the
// earliest of equal values does) and adds the window's gradient when it is this element.
// The sum is in double in the CPU's order, so the result has the CPU's bits.
template <typename T, typename X>
__global__ void max_pool_backward_kernel(const T* dy, const X* x, T* dx, PoolGeom g) {
  const int64_t n_elems = g.N * g.C * g.H * g.W;
  CR_GRID_STRIDE(i, n_elems) {
    int64_t n, c, h, w;
    if (g.nhwc) {
      c = i % g.C;
      int64_t r = i / g.C;
      w = r % g.W;
      r /= g.W;
      h = r % g.H;
      n = r / g.H;
    } else {
      w = i % g.W;
      int64_t r = i / g.W;
      h = r % g.H;
      r /= g.H;
      c = r % g.C;
      n = r / g.C;
    }
    // Outputs whose window [o*s - p, o*s - p + k) contains h (resp. w).
    int64_t oh0 = h + g.ph - g.kh + 1 > 0 ? (h + g.ph - g.kh + 1 + g.sh - 1) / g.sh : 0;
    int64_t oh1 = min((h + g.ph) / g.sh, g.Ho - 1);
    int64_t ow0 = w + g.pw - g.kw + 1 > 0 ? (w + g.pw - g.kw + 1 + g.sw - 1) / g.sw : 0;
    int64_t ow1 = min((w + g.pw) / g.sw, g.Wo - 1);
    double acc = 0;
    for (int64_t oh = oh0; oh <= oh1; oh++)
      for (int64_t ow = ow0; ow <= ow1; ow++) {
        int64_t hs = oh * g.sh - g.ph, ws = ow * g.sw - g.pw;
        int64_t h0 = hs < 0 ? 0 : hs, w0 = ws < 0 ? 0 : ws;
        int64_t h1 = min(hs + g.kh, g.H), w1 = min(ws + g.kw, g.W);
        int64_t bh = h0, bw = w0;
        float best = to_f(x[cuda::offset4(g.nhwc, n, c, h0, w0, g.C, g.H, g.W)]);
        for (int64_t yh = h0; yh < h1; yh++)
          for (int64_t xw = w0; xw < w1; xw++) {
            float v = to_f(x[cuda::offset4(g.nhwc, n, c, yh, xw, g.C, g.H, g.W)]);
            if (v > best) {
              best = v;
              bh = yh;
              bw = xw;
            }
          }
        if (bh == h && bw == w) acc += to_f(dy[cuda::offset4(g.nhwc, n, c, oh, ow, g.C, g.Ho, g.Wo)]);
      }
    dx[i] = from_f<T>(static_cast<float>(acc));
  }
}

}  // namespace

static void pool_desc(const cuda::PoolDesc& d, const Pool2dParams& p, bool deterministic, const char* op) {
  dnn::cudnnPoolingMode_t mode = p.mode == PoolMode::Max
                                     ? (deterministic ? dnn::CUDNN_POOLING_MAX_DETERMINISTIC : dnn::CUDNN_POOLING_MAX)
                                     : (p.count_include_pad ? dnn::CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING
                                                            : dnn::CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING);
  CR_CUDNN_CHECK(dnn::api().cudnnSetPooling2dDescriptor(d, mode, dnn::CUDNN_NOT_PROPAGATE_NAN, p.kernel_h, p.kernel_w,
                                                        p.pad_h, p.pad_w, p.stride_h, p.stride_w),
                 op, "pooling window");
}

Tensor CudaBackend::pool2d_forward(const Tensor& x, const Pool2dParams& p) {
  cuda::DeviceGuard g(ctx_->index);
  const char* op = "pool2dForward";
  int64_t Ho = conv_out_size(x.dim(2), p.kernel_h, p.stride_h, p.pad_h, 1);
  int64_t Wo = conv_out_size(x.dim(3), p.kernel_w, p.stride_w, p.pad_w, 1);
  Tensor y = cuda::new_tensor(*ctx_, {x.dim(0), x.dim(1), Ho, Wo}, x.dtype, x.layout, op);
  cuda::TensorDesc xd, yd;
  cuda::dnnu::set_tensor(xd, x, op);
  cuda::dnnu::set_tensor(yd, y, op);
  // Max pooling's forward value does not depend on the tie rule; the backward's does.
  cuda::PoolDesc pd;
  pool_desc(pd, p, true, op);
  dnn::cudnnStatus_t st =
      dnn::api().cudnnPoolingForward(ctx_->handle, pd, &cuda::dnnu::kOne, xd, x.raw(), &cuda::dnnu::kZero, yd, y.raw());
  if (st != dnn::CUDNN_STATUS_SUCCESS && p.mode == PoolMode::Max && cuda::dnnu::refused(st)) {
    pool_desc(pd, p, false, op);
    st = dnn::api().cudnnPoolingForward(ctx_->handle, pd, &cuda::dnnu::kOne, xd, x.raw(), &cuda::dnnu::kZero, yd,
                                        y.raw());
  }
  CR_CUDNN_CHECK(st, op, cuda::describe_args({{"x", &x}}));
  return y;
}

Tensor CudaBackend::pool2d_backward(const Tensor& dy, const Tensor& x, const Tensor& y, const Pool2dParams& p) {
  cuda::DeviceGuard g(ctx_->index);
  const char* op = "pool2dBackward";
  // dx takes dy's dtype and layout, as on the CPU.
  Tensor dx = cuda::new_tensor(*ctx_, x.shape, dy.dtype, dy.layout, op);
  if (p.mode == PoolMode::Max) {
    // x keeps its own dtype (the maxima are found in it, as on the CPU), in dy's layout.
    Tensor xl = cuda::to_format(*ctx_, x, x.dtype, dy.layout, op);
    PoolGeom geo{x.dim(0),
                 x.dim(1),
                 x.dim(2),
                 x.dim(3),
                 dy.dim(2),
                 dy.dim(3),
                 p.kernel_h,
                 p.kernel_w,
                 p.stride_h,
                 p.stride_w,
                 p.pad_h,
                 p.pad_w,
                 dy.layout == Layout::NHWC};
    const int64_t n = dx.numel();
    cuda::dispatch_float(dy.dtype, op, [&](auto t) {
      using T = typename decltype(t)::type;
      cuda::dispatch_float(xl.dtype, op, [&](auto u) {
        using X = typename decltype(u)::type;
        max_pool_backward_kernel<T, X>
            <<<cuda::grid_for(*ctx_, n), 256, 0, ctx_->stream>>>(dy.data<T>(), xl.data<X>(), dx.data<T>(), geo);
      });
    });
    CR_LAUNCH_CHECK(op, cuda::describe_args({{"dy", &dy}, {"x", &x}}));
    return dx;
  }
  Tensor xc = cuda::to_format(*ctx_, x, dy.dtype, dy.layout, op);
  Tensor yc = cuda::to_format(*ctx_, y, dy.dtype, dy.layout, op);
  cuda::TensorDesc xd, yd;
  cuda::dnnu::set_tensor(xd, xc, op);
  cuda::dnnu::set_tensor(yd, yc, op);
  cuda::PoolDesc pd;
  pool_desc(pd, p, false, op);
  CR_CUDNN_CHECK(dnn::api().cudnnPoolingBackward(ctx_->handle, pd, &cuda::dnnu::kOne, yd, yc.raw(), yd, dy.raw(), xd,
                                                 xc.raw(), &cuda::dnnu::kZero, xd, dx.raw()),
                 op, cuda::describe_args({{"dy", &dy}, {"x", &x}, {"y", &y}}));
  return dx;
}

}  // namespace cr
