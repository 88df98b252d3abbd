// Tensor creation, copies and reshapes; memory and build information (dtype and layout
// conversions: convert_binding.cpp).
#include <cstring>
#include <vector>

#include "../core/backend.h"
#include "../cpu/conv_direct.h"
#include "../cpu/gemm.h"
#include "../cpu/jpeg.h"
#include "../cpu/parallel.h"
#include "args.h"
#include "ops.h"
#include "tensor_handle.h"

#ifndef CR_VERSION
#define CR_VERSION "0.0.0"
#endif
// The build defines the CUDA architectures it compiled kernels for; a build without the CUDA
// backend compiled for none.
#ifndef CR_CUDA_ARCHS
#define CR_CUDA_ARCHS ""
#endif

namespace crjs {

Napi::Error to_js_error(Napi::Env env, const cr::OpError& e) {
  Napi::Error err;
  switch (e.kind()) {
    case cr::ErrorKind::Type: err = Napi::TypeError::New(env, e.what()); break;
    case cr::ErrorKind::Range: err = Napi::RangeError::New(env, e.what()); break;
    default: err = Napi::Error::New(env, e.what()); break;
  }
  std::string code = e.code();
  if (code.empty() && e.kind() == cr::ErrorKind::OutOfMemory) code = "ERR_OUT_OF_MEMORY";
  if (!code.empty()) err.Set("code", Napi::String::New(env, code));
  if (!e.op().empty()) err.Set("op", Napi::String::New(env, e.op()));
  if (!e.argument().empty()) err.Set("argument", Napi::String::New(env, e.argument()));
  return err;
}

cr::OpError with_current_op(const cr::OpError& e) {
  const char* op = current_op();
  if (!e.op().empty() || op == nullptr) return e;
  std::string code = e.code();
  if (code.empty() && e.kind() == cr::ErrorKind::OutOfMemory) code = "ERR_OUT_OF_MEMORY";
  return cr::OpError(e.kind(), std::string(op) + ": " + e.what(), code, op, e.argument());
}

static Napi::Object wrap(const Args& a, cr::Tensor t) { return TensorHandle::Wrap(a.env(), std::move(t)); }

Napi::Value Empty(const Napi::CallbackInfo& info) {
  Args a(info, "empty", 4);
  cr::Shape shape = a.shape(0, "shape");
  cr::DType dtype = a.dtype(1, "dtype");
  cr::Layout layout = a.layout(2, "layout");
  expect_layout_fits(a.op(), "layout", layout, shape.size());
  cr::Device dev = a.device(3, "device");
  return wrap(a, cr::backend_for(dev).empty(shape, dtype, layout));
}

Napi::Value Full(const Napi::CallbackInfo& info) {
  Args a(info, "full", 5);
  cr::Shape shape = a.shape(0, "shape");
  cr::DType dtype = a.dtype(1, "dtype");
  cr::Layout layout = a.layout(2, "layout");
  expect_layout_fits(a.op(), "layout", layout, shape.size());
  cr::Device dev = a.device(3, "device");
  double value = a.number(4, "value");
  if (dtype == cr::DType::I32 || dtype == cr::DType::U8) {
    double lo = dtype == cr::DType::U8 ? 0 : -2147483648.0, hi = dtype == cr::DType::U8 ? 255 : 2147483647.0;
    if (value != static_cast<double>(static_cast<int64_t>(value)) || value < lo || value > hi)
      cr::throw_range("full", "value",
                      std::string("must be an integer representable as ") + cr::dtype_name(dtype) + ", got " +
                          std::to_string(value));
  }
  cr::Backend& be = cr::backend_for(dev);
  cr::Tensor t = be.empty(shape, dtype, layout);
  be.fill_constant_(t, value);
  return wrap(a, t);
}

Napi::Value FromTypedArray(const Napi::CallbackInfo& info) {
  Args a(info, "fromTypedArray", 5);
  Napi::Value v = info[0];
  if (!v.IsTypedArray()) cr::throw_type("fromTypedArray", "data", "must be a typed array");
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  cr::Shape shape = a.shape(1, "shape");
  cr::DType dtype = a.dtype(2, "dtype");
  cr::Layout layout = a.layout(3, "layout");
  expect_layout_fits(a.op(), "layout", layout, shape.size());
  cr::Device dev = a.device(4, "device");
  napi_typedarray_type tt = ta.TypedArrayType();
  bool ok = (dtype == cr::DType::F32 && tt == napi_float32_array) ||
            ((dtype == cr::DType::F16 || dtype == cr::DType::BF16) &&
             (tt == napi_float32_array || tt == napi_uint16_array)) ||
            (dtype == cr::DType::I32 && tt == napi_int32_array) ||
            (dtype == cr::DType::U8 && (tt == napi_uint8_array || tt == napi_uint8_clamped_array));
  if (!ok)
    cr::throw_type("fromTypedArray", "data",
                   std::string("has the wrong element type for dtype ") + cr::dtype_name(dtype) +
                       " (float32: Float32Array; float16/bfloat16: Float32Array or Uint16Array of bits; "
                       "int32: Int32Array; uint8: Uint8Array)");
  int64_t n = cr::shape_numel(shape);
  if (static_cast<int64_t>(ta.ElementLength()) != n)
    cr::throw_range("fromTypedArray", "data",
                    "has " + std::to_string(ta.ElementLength()) + " elements but shape " + cr::shape_str(shape) +
                        " needs " + std::to_string(n));
  const uint8_t* src = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  cr::Backend& cpu = cr::cpu_backend();
  cr::Tensor host = cpu.empty(shape, dtype, layout);
  if (tt == napi_float32_array && dtype != cr::DType::F32) {
    const float* f = reinterpret_cast<const float*>(src);
    uint16_t* h = host.data<uint16_t>();
    for (int64_t i = 0; i < n; i++) h[i] = dtype == cr::DType::F16 ? cr::float_to_half(f[i]) : cr::float_to_bf16(f[i]);
  } else {
    std::memcpy(host.raw(), src, host.nbytes());
  }
  if (dev.type == cr::DeviceType::CPU) return wrap(a, host);
  cr::Backend& be = cr::backend_for(dev);
  cr::Tensor t = be.empty(shape, dtype, layout);
  be.copy_from_host_(t, host.raw());
  return wrap(a, t);
}

// Copies src into dst (same shape/dtype/layout) across any pair of devices.
static void copy_between(const cr::Tensor& dst, const cr::Tensor& src) {
  if (dst.device() == src.device()) {
    cr::backend_for(dst.device()).copy_(dst, src);
  } else if (src.device().type == cr::DeviceType::CPU) {
    cr::backend_for(dst.device()).copy_from_host_(dst, src.raw());
  } else if (dst.device().type == cr::DeviceType::CPU) {
    cr::backend_for(src.device()).copy_to_host(src, dst.raw());
  } else {
    std::vector<uint8_t> staging(src.nbytes());
    cr::backend_for(src.device()).copy_to_host(src, staging.data());
    cr::backend_for(dst.device()).copy_from_host_(dst, staging.data());
  }
}

Napi::Value ToDevice(const Napi::CallbackInfo& info) {
  Args a(info, "toDevice", 2);
  const cr::Tensor& x = a.tensor(0, "x");
  cr::Device dev = a.device(1, "device");
  cr::Tensor y = cr::backend_for(dev).empty(x.shape, x.dtype, x.layout);
  copy_between(y, x);
  return wrap(a, y);
}

Napi::Value Reshape(const Napi::CallbackInfo& info) {
  Args a(info, "reshape", 2);
  const cr::Tensor& x = a.tensor(0, "x");
  cr::Shape shape = a.shape(1, "shape");
  if (cr::shape_numel(shape) != x.numel())
    cr::throw_range("reshape", "shape",
                    cr::shape_str(shape) + " does not have the " + std::to_string(x.numel()) + " elements of " +
                        cr::shape_str(x.shape));
  if (x.rank() == 4 && x.layout == cr::Layout::NHWC && shape != x.shape)
    cr::throw_type("reshape", "x", "must be NCHW to change its shape (NHWC memory order differs), got " + x.describe());
  cr::Tensor y = x;
  y.shape = shape;
  if (y.rank() != 4) y.layout = cr::Layout::NCHW;
  return wrap(a, y);
}

Napi::Value CopyInto(const Napi::CallbackInfo& info) {
  Args a(info, "copyInto", 2);
  const cr::Tensor& dst = a.tensor(0, "dst");
  const cr::Tensor& src = a.tensor(1, "src");
  expect_same_shape("copyInto", "src", src, "dst", dst);
  if (src.dtype != dst.dtype || (src.rank() == 4 && src.layout != dst.layout))
    cr::throw_type("copyInto", "src", "must match 'dst' (" + dst.describe() + "), got " + src.describe());
  if (src.storage == dst.storage && src.offset_bytes == dst.offset_bytes) return a.env().Undefined();
  copy_between(dst, src);
  return a.env().Undefined();
}

Napi::Value Synchronize(const Napi::CallbackInfo& info) {
  Args a(info, "synchronize", 1);
  cr::backend_for(a.device(0, "device")).synchronize();
  return a.env().Undefined();
}

Napi::Value MemoryStats(const Napi::CallbackInfo& info) {
  Args a(info, "memoryStats", 0);
  Napi::Object o = Napi::Object::New(a.env());
  auto& cpu = cr::storage_counters(cr::DeviceType::CPU);
  auto& cuda = cr::storage_counters(cr::DeviceType::CUDA);
  o.Set("liveTensors", static_cast<double>(TensorHandle::live_count()));
  o.Set("cpuStorages", static_cast<double>(cpu.count.load()));
  o.Set("cpuBytes", static_cast<double>(cpu.bytes.load()));
  o.Set("cudaStorages", static_cast<double>(cuda.count.load()));
  o.Set("cudaBytes", static_cast<double>(cuda.bytes.load()));
  return o;
}

Napi::Value CpuThreadTimes(const Napi::CallbackInfo& info) {
  Args a(info, "cpuThreadTimes", 0);
  cr::ThreadCpuSeconds t = cr::thread_cpu_seconds();
  Napi::Object o = Napi::Object::New(a.env());
  o.Set("callerMs", t.caller * 1e3);
  o.Set("poolMs", t.pool * 1e3);
  return o;
}

bool cuda_compiled() { return CR_CUDA_ARCHS[0] != '\0'; }

Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  Args a(info, "buildInfo", 0);
  Napi::Object o = Napi::Object::New(a.env());
  o.Set("version", CR_VERSION);
  o.Set("cuda", cuda_compiled());
  o.Set("cudaArchitectures", CR_CUDA_ARCHS);
  o.Set("cpuThreads", static_cast<double>(cr::cpu_threads()));
  o.Set("cpuKernel", cr::gemm_kernel_name());
  o.Set("cpuDirectConv", cr::cpu_conv::direct3x3_kernel_name());
  o.Set("napiVersion", static_cast<double>(NAPI_VERSION));
  o.Set("jpeg", cr::jpeg::version());
  return o;
}

}  // namespace crjs
