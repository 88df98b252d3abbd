// Launchers that more than one op family uses (host side; defined in kernels/*.cu).
#pragma once
#include "../../core/tensor.h"
#include "../context.h"

namespace cr {
namespace cuda {

// x itself when it already has this dtype and layout, else a converted copy (convert.cu).
Tensor to_format(DeviceContext& ctx, const Tensor& x, DType dtype, Layout layout, const char* op);

// y[n, c, h, w] += bias[c] in place, any float dtypes and layout (elementwise.cu).
void bias_add_(DeviceContext& ctx, const Tensor& y, const Tensor& bias, const char* op);

// out[c] = sum over n, h, w of x (fp32 [C], deterministic) (reduce.cu).
Tensor channel_sum(DeviceContext& ctx, const Tensor& x, const char* op);

// y = relu?(y + residual) in place; residual may be null (batchnorm.cu).
void add_relu_(DeviceContext& ctx, const Tensor& y, const Tensor* residual, bool relu, const char* op);

// dx = dy where y > 0, else 0, in dy's dtype and layout (elementwise.cu).
Tensor relu_grad(DeviceContext& ctx, const Tensor& dy, const Tensor& y, const char* op);

}  // namespace cuda
}  // namespace cr
