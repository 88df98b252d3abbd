// JPEG decoding for the image loader (native/cpu/jpeg.h) and the resize that follows it
// (native/cpu/resample.h). Safe in worker threads: no state outside the call.
#include <napi.h>

#include "../cpu/jpeg.h"
#include "../cpu/resample.h"
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

template <typename T, napi_typedarray_type kType>
std::pair<const T*, size_t> typed_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name,
                                      const char* kind) {
  Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != kType)
    cr::throw_type(op, name, std::string("must be a ") + kind);
  auto ta = v.As<Napi::TypedArray>();
  return {reinterpret_cast<const T*>(static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset()),
          ta.ElementLength()};
}

// One axis' taps (arguments first .. first + 3: start, count, weights, maxTaps), checked to
// read only pixels [origin, origin + size) of the source.
cr::resample::Axis axis_arg(const Napi::CallbackInfo& info, const Args& a, size_t first, const char* axis,
                            int64_t origin, int64_t size) {
  const std::string p(axis);
  auto [start, n] = typed_arg<int32_t, napi_int32_array>(info, first, a.op(), (p + "Start").c_str(), "Int32Array");
  auto [count, nc] = typed_arg<int32_t, napi_int32_array>(info, first + 1, a.op(), (p + "Count").c_str(), "Int32Array");
  auto [weights, nw] =
      typed_arg<float, napi_float32_array>(info, first + 2, a.op(), (p + "Weights").c_str(), "Float32Array");
  const int max_taps = static_cast<int>(a.integer(first + 3, (p + "MaxTaps").c_str(), 1, 1 << 20));
  if (n < 1 || n > static_cast<size_t>(kMaxSide) || nc != n)
    cr::throw_range(a.op(), p + "Count", "must have as many entries as " + p + "Start (1 to 65535)");
  if (nw < n * static_cast<size_t>(max_taps))
    cr::throw_range(a.op(), p + "Weights", "must hold maxTaps weights per output position");
  for (size_t i = 0; i < n; i++) {
    if (count[i] < 1 || count[i] > max_taps || start[i] < origin ||
        static_cast<int64_t>(start[i]) + count[i] > origin + size)
      cr::throw_range(a.op(), p + "Start", "reads outside the source pixels at output position " + std::to_string(i));
  }
  return {start, count, weights, max_taps, static_cast<int>(n)};
}

}  // namespace

// resampleRgb(src, srcWidth, srcHeight, originX, originY, xStart, xCount, xWeights, xMaxTaps,
//             yStart, yCount, yWeights, yMaxTaps, out, outWidth, outX, outY, flip)
Napi::Value ResampleRgb(const Napi::CallbackInfo& info) {
  Args a(info, "resampleRgb", 18);
  auto [src, src_len] = typed_arg<uint8_t, napi_uint8_array>(info, 0, a.op(), "src", "Uint8Array");
  cr::resample::Image img;
  img.data = src;
  img.width = static_cast<int>(a.integer(1, "srcWidth", 1, kMaxSide));
  img.height = static_cast<int>(a.integer(2, "srcHeight", 1, kMaxSide));
  img.origin_x = static_cast<int>(a.integer(3, "originX", 0, kMaxSide));
  img.origin_y = static_cast<int>(a.integer(4, "originY", 0, kMaxSide));
  if (src_len != static_cast<size_t>(img.width) * img.height * 3)
    cr::throw_range(a.op(), "src", "must hold srcWidth x srcHeight x 3 bytes");
  const cr::resample::Axis x = axis_arg(info, a, 5, "x", img.origin_x, img.width);
  const cr::resample::Axis y = axis_arg(info, a, 9, "y", img.origin_y, img.height);
  auto [out_c, out_len] = typed_arg<uint8_t, napi_uint8_array>(info, 13, a.op(), "out", "Uint8Array");
  const int out_width = static_cast<int>(a.integer(14, "outWidth", 1, kMaxSide));
  const int out_x = static_cast<int>(a.integer(15, "outX", 0, kMaxSide));
  const int out_y = static_cast<int>(a.integer(16, "outY", 0, kMaxSide));
  const bool flip = a.boolean(17, "flip");
  if (out_x + x.n > out_width) cr::throw_range(a.op(), "outX", "puts the result past outWidth");
  if (out_len < (static_cast<size_t>(out_y) + y.n) * out_width * 3)
    cr::throw_range(a.op(), "out", "is too small for the result at outY");
  std::vector<float> scratch;
  cr::resample::resample_rgb(img, x, y, const_cast<uint8_t*>(out_c), out_width, out_x, out_y, flip, scratch);
  return info.Env().Undefined();
}

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
