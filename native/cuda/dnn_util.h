// Helpers shared by the files that call cuDNN (conv.cu, batchnorm.cu, pooling.cu).
#pragma once
#include "../core/errors.h"
#include "common.h"
#include "context.h"
#include "policy/cudnn_status.h"
#include "policy/legacy_dims.h"

namespace cr {
namespace cuda {
namespace dnnu {

using namespace dnn;

inline const Api& A() { return api(); }

inline cudnnDataType_t dnn_dtype(DType t) {
  switch (t) {
    case DType::F32: return CUDNN_DATA_FLOAT;
    case DType::F16: return CUDNN_DATA_HALF;
    case DType::BF16: return CUDNN_DATA_BFLOAT16;
    case DType::I32: return CUDNN_DATA_INT32;
    case DType::U8: return CUDNN_DATA_UINT8;
  }
  return CUDNN_DATA_FLOAT;
}

inline cudnnTensorFormat_t dnn_format(Layout l) { return l == Layout::NHWC ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW; }

// 4-D descriptor for [N, C, H, W] (rank 2 [N, C] as [N, C, 1, 1]).
inline void set_tensor(const TensorDesc& d, const Shape& s, DType t, Layout l, const char* op) {
  check_legacy_dims(s, op);
  int n = static_cast<int>(s[0]), c = static_cast<int>(s[1]);
  int h = s.size() == 4 ? static_cast<int>(s[2]) : 1, w = s.size() == 4 ? static_cast<int>(s[3]) : 1;
  CR_CUDNN_CHECK(
      A().cudnnSetTensor4dDescriptor(d, s.size() == 4 ? dnn_format(l) : CUDNN_TENSOR_NCHW, dnn_dtype(t), n, c, h, w),
      op, "tensor " + shape_str(s) + " " + dtype_name(t));
}
inline void set_tensor(const TensorDesc& d, const Tensor& x, const char* op) {
  set_tensor(d, x.shape, x.dtype, x.layout, op);
}

inline void set_filter(const FilterDesc& d, const Shape& s, DType t, Layout l, const char* op) {
  check_legacy_dims(s, op);
  CR_CUDNN_CHECK(A().cudnnSetFilter4dDescriptor(d, dnn_dtype(t), dnn_format(l), static_cast<int>(s[0]),
                                                static_cast<int>(s[1]), static_cast<int>(s[2]), static_cast<int>(s[3])),
                 op, "filter " + shape_str(s) + " " + dtype_name(t));
}

using cuda::refused;

constexpr float kOne = 1.f, kZero = 0.f;

}  // namespace dnnu
}  // namespace cuda
}  // namespace cr
