// dtype casts and NCHW <-> NHWC transforms, fused in one kernel: each thread writes one
// output element (coalesced stores) and gathers its input by logical index.
#include <type_traits>

#include "../context.h"
#include "common.cuh"
#include "kernels.h"

namespace cr {
namespace cuda {
namespace {

template <typename Out, typename In>
__device__ __forceinline__ Out convert(In v) {
  if constexpr (std::is_integral<Out>::value && std::is_integral<In>::value) {
    return static_cast<Out>(v);
  } else if constexpr (std::is_integral<Out>::value) {
    return static_cast<Out>(to_f(v));  // truncation toward zero, like a C cast
  } else if constexpr (std::is_same<Out, In>::value) {
    return v;
  } else {
    return from_f<Out>(to_f(v));
  }
}

template <typename Out, typename In>
__global__ void convert_kernel(const In* x, Out* y, int64_t n, bool permute, bool out_nhwc, int64_t C, int64_t H,
                               int64_t W) {
  CR_GRID_STRIDE(i, n) {
    int64_t src = i;
    if (permute) {
      int64_t c, h, w, nn;
      if (out_nhwc) {  // i = ((n*H + h)*W + w)*C + c
        c = i % C;
        int64_t r = i / C;
        w = r % W;
        r /= W;
        h = r % H;
        nn = r / H;
      } else {  // i = ((n*C + c)*H + h)*W + w
        w = i % W;
        int64_t r = i / W;
        h = r % H;
        r /= H;
        c = r % C;
        nn = r / C;
      }
      src = offset4(!out_nhwc, nn, c, h, w, C, H, W);
    }
    y[i] = convert<Out, In>(x[src]);
  }
}

}  // namespace

Tensor to_format(DeviceContext& ctx, const Tensor& x, DType dtype, Layout layout, const char* op) {
  bool permute = x.rank() == 4 && x.layout != layout;
  if (x.dtype == dtype && !permute) return x;
  Tensor y = new_tensor(ctx, x.shape, dtype, x.rank() == 4 ? layout : Layout::NCHW, op);
  int64_t n = x.numel();
  int64_t C = x.rank() == 4 ? x.dim(1) : 1, H = x.rank() == 4 ? x.dim(2) : 1, W = x.rank() == 4 ? x.dim(3) : 1;
  bool out_nhwc = y.layout == Layout::NHWC;
  dispatch_any(dtype, op, [&](auto o) {
    using Out = typename decltype(o)::type;
    dispatch_any(x.dtype, op, [&](auto in) {
      using In = typename decltype(in)::type;
      convert_kernel<Out, In>
          <<<grid_for(ctx, n), 256, 0, ctx.stream>>>(x.data<In>(), y.data<Out>(), n, permute, out_nhwc, C, H, W);
    });
  });
  CR_LAUNCH_CHECK(op, describe_args({{"x", &x}}) + std::string(" -> ") + dtype_name(dtype) + " " + layout_name(layout));
  return y;
}

}  // namespace cuda

Tensor CudaBackend::cast(const Tensor& x, DType dtype) {
  cuda::DeviceGuard g(ctx_->index);
  if (x.dtype == dtype) {  // a new tensor all the same: callers may write to the result
    Tensor y = cuda::new_tensor(*ctx_, x.shape, x.dtype, x.layout, "cast");
    copy_(y, x);
    return y;
  }
  return cuda::to_format(*ctx_, x, dtype, x.layout, "cast");
}

Tensor CudaBackend::to_layout(const Tensor& x, Layout layout) {
  cuda::DeviceGuard g(ctx_->index);
  if (x.layout == layout) {
    Tensor y = cuda::new_tensor(*ctx_, x.shape, x.dtype, x.layout, "toLayout");
    copy_(y, x);
    return y;
  }
  return cuda::to_format(*ctx_, x, x.dtype, layout, "toLayout");
}

Tensor CudaBackend::convert(const Tensor& x, DType dtype, Layout layout) {
  cuda::DeviceGuard g(ctx_->index);
  if (x.dtype == dtype && (x.rank() != 4 || x.layout == layout)) {
    Tensor y = cuda::new_tensor(*ctx_, x.shape, x.dtype, x.layout, "convert");
    copy_(y, x);
    return y;
  }
  return cuda::to_format(*ctx_, x, dtype, layout, "convert");
}

}  // namespace cr
