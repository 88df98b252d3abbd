// Dtype and layout conversions: cast(x, dtype), toLayout(x, layout), convert(x, dtype,
// layout), each returning a new tensor on x's device.
#include <cmath>
#include <string>

#include "../core/backend.h"
#include "args.h"
#include "ops.h"
#include "tensor_handle.h"

namespace crjs {

namespace {

// A value an integer dtype cannot hold is refused, as full() refuses it, rather than wrapped
// (C++ leaves such casts undefined; in practice 1e12 and NaN became INT32_MIN, -5 became
// 251). The rule: NaN, infinities and values whose truncation toward zero is outside the
// target's range are errors; fractions truncate toward zero (a cast converts computed
// values, where that is the usual meaning). The values are read on the host: a device
// tensor is copied there first, so casting to an integer dtype synchronises its stream.
void expect_fits_integer(const char* op, const cr::Tensor& x, cr::DType dtype) {
  if (dtype != cr::DType::I32 && dtype != cr::DType::U8) return;
  if (x.dtype == dtype || x.dtype == cr::DType::U8) return;         // u8 fits both
  const double lo = dtype == cr::DType::U8 ? -1.0 : -2147483649.0;  // exclusive bounds after truncation
  const double hi = dtype == cr::DType::U8 ? 256.0 : 2147483648.0;
  cr::Tensor host = x;
  if (x.device().type != cr::DeviceType::CPU) {
    host = cr::cpu_backend().empty(x.shape, x.dtype, x.layout);
    cr::backend_for(x.device()).copy_to_host(x, host.raw());
  }
  for (int64_t i = 0; i < host.numel(); i++) {
    double v = 0;
    switch (x.dtype) {
      case cr::DType::F32: v = host.data<float>()[i]; break;
      case cr::DType::F16: v = cr::half_to_float(host.data<uint16_t>()[i]); break;
      case cr::DType::BF16: v = cr::bf16_to_float(host.data<uint16_t>()[i]); break;
      case cr::DType::I32: v = host.data<int32_t>()[i]; break;
      case cr::DType::U8: v = host.data<uint8_t>()[i]; break;
    }
    if (!(v > lo && v < hi))
      cr::throw_range(op, "x",
                      std::string("holds ") + std::to_string(v) + " at element " + std::to_string(i) +
                          " (memory order), which " + cr::dtype_name(dtype) + " cannot represent");
  }
}

}  // namespace

Napi::Value Cast(const Napi::CallbackInfo& info) {
  Args a(info, "cast", 2);
  const cr::Tensor& x = a.tensor(0, "x");
  cr::DType dtype = a.dtype(1, "dtype");
  expect_fits_integer(a.op(), x, dtype);
  return TensorHandle::Wrap(a.env(), cr::backend_for(x.device()).cast(x, dtype));
}

Napi::Value ToLayout(const Napi::CallbackInfo& info) {
  Args a(info, "toLayout", 2);
  const cr::Tensor& x = a.tensor(0, "x");
  cr::Layout layout = a.layout(1, "layout");
  expect_rank("toLayout", "x", x, 4);
  return TensorHandle::Wrap(a.env(), cr::backend_for(x.device()).to_layout(x, layout));
}

Napi::Value Convert(const Napi::CallbackInfo& info) {
  Args a(info, "convert", 3);
  const cr::Tensor& x = a.tensor(0, "x");
  cr::DType dtype = a.dtype(1, "dtype");
  cr::Layout layout = a.layout(2, "layout");
  if (x.rank() != 4 && layout != cr::Layout::NCHW)
    cr::throw_range("convert", "layout",
                    "must be NCHW for a " + std::to_string(x.rank()) + "-D tensor (only 4-D tensors have a layout)");
  expect_fits_integer(a.op(), x, dtype);
  return TensorHandle::Wrap(a.env(), cr::backend_for(x.device()).convert(x, dtype, layout));
}

}  // namespace crjs
