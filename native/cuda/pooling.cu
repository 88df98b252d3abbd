// cuDNN pooling (max and average). The tie rule of max pooling's backward pass decides where
// a gradient goes when a window holds equal maxima; see pool2d_backward.
#include "dnn_util.h"
#include "kernels/kernels.h"

namespace cr {

static void pool_desc(const cuda::PoolDesc& d, const Pool2dParams& p, bool deterministic, const char* op) {
  dnn::cudnnPoolingMode_t mode =
      p.mode == PoolMode::Max ? (deterministic ? dnn::CUDNN_POOLING_MAX_DETERMINISTIC : dnn::CUDNN_POOLING_MAX)
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
  dnn::cudnnStatus_t st = dnn::api().cudnnPoolingForward(ctx_->handle, pd, &cuda::dnnu::kOne, xd, x.raw(), &cuda::dnnu::kZero, yd, y.raw());
  if (st != dnn::CUDNN_STATUS_SUCCESS && p.mode == PoolMode::Max && cuda::dnnu::refused(st)) {
    pool_desc(pd, p, false, op);
    st = dnn::api().cudnnPoolingForward(ctx_->handle, pd, &cuda::dnnu::kOne, xd, x.raw(), &cuda::dnnu::kZero, yd, y.raw());
  }
  CR_CUDNN_CHECK(st, op, cuda::describe_args({{"x", &x}}));
  return y;
}

Tensor CudaBackend::pool2d_backward(const Tensor& dy, const Tensor& x, const Tensor& y, const Pool2dParams& p) {
  cuda::DeviceGuard g(ctx_->index);
  const char* op = "pool2dBackward";
  // dx takes dy's dtype and layout, as on the CPU; x and y follow it.
  Tensor dyc = dy;
  Tensor xc = cuda::to_format(*ctx_, x, dy.dtype, dy.layout, op);
  Tensor yc = cuda::to_format(*ctx_, y, dy.dtype, dy.layout, op);
  Tensor dx = cuda::new_tensor(*ctx_, x.shape, dy.dtype, dy.layout, op);
  cuda::TensorDesc xd, yd;
  cuda::dnnu::set_tensor(xd, xc, op);
  cuda::dnnu::set_tensor(yd, yc, op);
  cuda::PoolDesc pd;
  pool_desc(pd, p, true, op);
  dnn::cudnnStatus_t st = dnn::api().cudnnPoolingBackward(ctx_->handle, pd, &cuda::dnnu::kOne, yd, yc.raw(), yd, dyc.raw(),
                                                         xd, xc.raw(), &cuda::dnnu::kZero, xd, dx.raw());
  if (st != dnn::CUDNN_STATUS_SUCCESS && p.mode == PoolMode::Max && cuda::dnnu::refused(st)) {
    pool_desc(pd, p, false, op);
    st = dnn::api().cudnnPoolingBackward(ctx_->handle, pd, &cuda::dnnu::kOne, yd, yc.raw(), yd, dyc.raw(), xd, xc.raw(),
                                         &cuda::dnnu::kZero, xd, dx.raw());
  }
  CR_CUDNN_CHECK(st, op, cuda::describe_args({{"dy", &dy}, {"x", &x}, {"y", &y}}));
  return dx;
}

}  // namespace cr
