// JPEG decoding for the image loader (native/cpu/jpeg.h). Safe in worker threads: no state
// outside the call.
#include <napi.h>

#include "../cpu/jpeg.h"
#include "ops.h"

namespace crjs {

namespace {

struct Bytes {
  const uint8_t* data;
  size_t size;
};

Bytes bytes_arg(const Napi::CallbackInfo& info, const char* op) {
  Napi::Value v = info[0];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    cr::throw_type(op, "data", "must be a Uint8Array or Buffer of the encoded file");
  auto u8 = v.As<Napi::Uint8Array>();
  return {u8.Data(), u8.ByteLength()};
}

[[noreturn]] void throw_failure(const char* op, const cr::jpeg::Result& r) {
  switch (r.status) {
    case cr::jpeg::Status::Unsupported: cr::throw_runtime(op, r.message, "ERR_JPEG_UNSUPPORTED");
    case cr::jpeg::Status::BadWindow: cr::throw_range(op, "window", r.message);
    default: cr::throw_runtime(op, r.message, "ERR_JPEG_DECODE");
  }
}

constexpr int64_t kMaxSide = 65535;  // the format's limit

}  // namespace

// jpegInfo(data, maxPixels) -> { width, height, components, progressive, unsupported }
Napi::Value JpegInfo(const Napi::CallbackInfo& info) {
  Args a(info, "jpegInfo", 2);
  Bytes b = bytes_arg(info, a.op());
  const int64_t max_pixels = a.integer(1, "maxPixels", 1, kMaxSide * kMaxSide);
  cr::jpeg::Info header;
  cr::jpeg::Result r = cr::jpeg::read_info(b.data, b.size, static_cast<uint64_t>(max_pixels), &header);
  if (r.status != cr::jpeg::Status::Ok && r.status != cr::jpeg::Status::Unsupported) throw_failure(a.op(), r);
  Napi::Object o = Napi::Object::New(a.env());
  o.Set("width", static_cast<double>(header.width));
  o.Set("height", static_cast<double>(header.height));
  o.Set("components", static_cast<double>(header.components));
  o.Set("progressive", header.progressive);
  o.Set("unsupported",
        header.unsupported ? Napi::Value(Napi::String::New(a.env(), header.unsupported)) : a.env().Null());
  return o;
}

// jpegDecode(data, denom, left, top, width, height, maxPixels) -> Uint8Array, height x width x 3 RGB
Napi::Value JpegDecode(const Napi::CallbackInfo& info) {
  Args a(info, "jpegDecode", 7);
  Bytes b = bytes_arg(info, a.op());
  cr::jpeg::Window w;
  w.denom = static_cast<int>(a.integer(1, "denom", 1, 8));
  if (w.denom != 1 && w.denom != 2 && w.denom != 4 && w.denom != 8)
    cr::throw_range(a.op(), "denom", "must be 1, 2, 4 or 8, got " + std::to_string(w.denom));
  w.left = static_cast<int>(a.integer(2, "left", 0, kMaxSide - 1));
  w.top = static_cast<int>(a.integer(3, "top", 0, kMaxSide - 1));
  w.width = static_cast<int>(a.integer(4, "width", 1, kMaxSide));
  w.height = static_cast<int>(a.integer(5, "height", 1, kMaxSide));
  const int64_t max_pixels = a.integer(6, "maxPixels", 1, kMaxSide * kMaxSide);
  auto out = Napi::Uint8Array::New(a.env(), static_cast<size_t>(w.width) * w.height * 3);
  cr::jpeg::Result r = cr::jpeg::decode(b.data, b.size, w, static_cast<uint64_t>(max_pixels), out.Data());
  if (r.status != cr::jpeg::Status::Ok) throw_failure(a.op(), r);
  return out;
}

}  // namespace crjs
