#include "args.h"

#include <algorithm>
#include <cmath>

#include "../core/errors.h"
#include "tensor_handle.h"

namespace crjs {

using cr::throw_range;
using cr::throw_type;

thread_local const char* t_current_op = nullptr;

const char* current_op() { return t_current_op; }
void set_current_op(const char* op) { t_current_op = op; }

Args::Args(const Napi::CallbackInfo& info, const char* op, size_t min_count, size_t max_count) : info_(info), op_(op) {
  t_current_op = op;
  size_t n = info.Length();
  if (n < min_count || n > max_count) {
    std::string want = min_count == max_count ? std::to_string(min_count)
                                              : std::to_string(min_count) + " to " + std::to_string(max_count);
    throw cr::OpError(cr::ErrorKind::Type,
                      std::string(op) + ": expected " + want + " arguments, got " + std::to_string(n),
                      "ERR_INVALID_ARG_COUNT", op);
  }
}

const Napi::Value& Args::at(size_t i) const {
  scratch_ = info_[i];
  return scratch_;
}

static std::string type_of(const Napi::Value& v) {
  switch (v.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "a boolean";
    case napi_number: return "a number";
    case napi_string: return "a string";
    case napi_symbol: return "a symbol";
    case napi_object: return v.IsArray() ? "an array" : "an object";
    case napi_function: return "a function";
    case napi_external: return "an external";
    case napi_bigint: return "a bigint";
  }
  return "unknown";
}

static const cr::Tensor& tensor_of(const char* op, const std::string& name, const Napi::Value& v) {
  if (!v.IsObject()) throw_type(op, name, "must be a tensor handle, got " + type_of(v));
  bool disposed = false;
  TensorHandle* h = TensorHandle::Unwrap(v, &disposed);
  if (disposed) throw_type(op, name, "is a disposed tensor");
  if (!h) throw_type(op, name, "must be a tensor handle, got a foreign object");
  return h->tensor();
}

const cr::Tensor& Args::tensor(size_t i, const char* name) const { return tensor_of(op_, name, at(i)); }

const cr::Tensor* Args::optional_tensor(size_t i, const char* name) const {
  const Napi::Value& v = at(i);
  if (v.IsNull() || v.IsUndefined()) return nullptr;
  return &tensor_of(op_, name, v);
}

std::vector<cr::Tensor> Args::tensor_list(size_t i, const char* name) const {
  Napi::Value v = at(i);
  if (!v.IsArray()) throw_type(op_, name, "must be an array of tensor handles, got " + type_of(v));
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() > 100000) throw_range(op_, name, "has too many tensors (" + std::to_string(a.Length()) + ")");
  std::vector<cr::Tensor> out;
  out.reserve(a.Length());
  for (uint32_t k = 0; k < a.Length(); k++)
    out.push_back(tensor_of(op_, std::string(name) + "[" + std::to_string(k) + "]", a.Get(k)));
  return out;
}

double Args::number(size_t i, const char* name) const {
  const Napi::Value& v = at(i);
  if (!v.IsNumber()) throw_type(op_, name, "must be a number, got " + type_of(v));
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) throw_range(op_, name, "must be finite, got " + std::to_string(d));
  return d;
}

static int64_t integer_of(const char* op, const std::string& name, const Napi::Value& v, int64_t lo, int64_t hi) {
  if (!v.IsNumber()) throw_type(op, name, "must be an integer, got " + type_of(v));
  double d = v.As<Napi::Number>().DoubleValue();
  if (std::isnan(d)) throw_range(op, name, "must be an integer, got NaN");
  if (d != std::floor(d) || std::isinf(d)) throw_range(op, name, "must be an integer, got " + std::to_string(d));
  // A bound nobody would type (a size's 2^36) is left out of the message.
  const bool huge = hi >= (int64_t{1} << 31);
  if (d < static_cast<double>(lo) || d > static_cast<double>(hi))
    throw_range(op, name,
                (huge ? "must be >= " + std::to_string(lo)
                      : "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]") +
                    ", got " + std::to_string(static_cast<long long>(d)));
  return static_cast<int64_t>(d);
}

int64_t Args::integer(size_t i, const char* name, int64_t lo, int64_t hi) const {
  return integer_of(op_, name, at(i), lo, hi);
}

bool Args::boolean(size_t i, const char* name) const {
  const Napi::Value& v = at(i);
  if (!v.IsBoolean()) throw_type(op_, name, "must be a boolean, got " + type_of(v));
  return v.As<Napi::Boolean>().Value();
}

std::string Args::string(size_t i, const char* name) const {
  const Napi::Value& v = at(i);
  if (!v.IsString()) throw_type(op_, name, "must be a string, got " + type_of(v));
  return v.As<Napi::String>().Utf8Value();
}

cr::Shape Args::shape(size_t i, const char* name) const {
  Napi::Value v = at(i);
  if (!v.IsArray()) throw_type(op_, name, "must be an array of sizes, got " + type_of(v));
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() < 1 || a.Length() > static_cast<uint32_t>(cr::kMaxRank))
    throw_range(op_, name,
                "must have 1 to " + std::to_string(cr::kMaxRank) + " dimensions, got " + std::to_string(a.Length()));
  cr::Shape s;
  double total = 1;
  for (uint32_t k = 0; k < a.Length(); k++) {
    int64_t d = integer_of(op_, std::string(name) + "[" + std::to_string(k) + "]", a.Get(k), 1, cr::kMaxElements);
    s.push_back(d);
    total *= static_cast<double>(d);
  }
  if (total > static_cast<double>(cr::kMaxElements))
    throw_range(op_, name, cr::shape_str(s) + " has more than 2^36 elements");
  return s;
}

std::vector<int64_t> Args::int_array(size_t i, const char* name, size_t count, int64_t lo, int64_t hi) const {
  Napi::Value v = at(i);
  if (!v.IsArray())
    throw_type(op_, name, "must be an array of " + std::to_string(count) + " integers, got " + type_of(v));
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() != count)
    throw_range(op_, name, "must have " + std::to_string(count) + " entries, got " + std::to_string(a.Length()));
  std::vector<int64_t> out;
  for (uint32_t k = 0; k < a.Length(); k++)
    out.push_back(integer_of(op_, std::string(name) + "[" + std::to_string(k) + "]", a.Get(k), lo, hi));
  return out;
}

std::vector<float> Args::float_array(size_t i, const char* name, size_t count) const {
  Napi::Value v = at(i);
  if (!v.IsArray())
    throw_type(op_, name, "must be an array of " + std::to_string(count) + " numbers, got " + type_of(v));
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() != count)
    throw_range(op_, name, "must have " + std::to_string(count) + " entries, got " + std::to_string(a.Length()));
  std::vector<float> out;
  for (uint32_t k = 0; k < a.Length(); k++) {
    Napi::Value e = a.Get(k);
    std::string en = std::string(name) + "[" + std::to_string(k) + "]";
    if (!e.IsNumber()) throw_type(op_, en, "must be a number, got " + type_of(e));
    double d = e.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d)) throw_range(op_, en, "must be finite");
    out.push_back(static_cast<float>(d));
  }
  return out;
}

cr::DType Args::dtype(size_t i, const char* name) const {
  std::string s = string(i, name);
  cr::DType t;
  if (!cr::dtype_from_name(s, &t))
    throw_type(op_, name, "must be one of float32, float16, bfloat16, int32, uint8; got '" + s + "'");
  return t;
}

cr::Layout Args::layout(size_t i, const char* name) const {
  std::string s = string(i, name);
  if (s == "NCHW") return cr::Layout::NCHW;
  if (s == "NHWC") return cr::Layout::NHWC;
  throw_type(op_, name, "must be 'NCHW' or 'NHWC'; got '" + s + "'");
}

cr::Device Args::device(size_t i, const char* name) const {
  std::string s = string(i, name);
  if (s == "cpu") return cr::Device{cr::DeviceType::CPU, 0};
  if (s.rfind("cuda", 0) == 0) {
    if (s == "cuda") return cr::Device{cr::DeviceType::CUDA, 0};
    if (s.size() > 5 && s[4] == ':' && s.size() <= 8) {
      int idx = 0;
      for (size_t k = 5; k < s.size(); k++) {
        if (s[k] < '0' || s[k] > '9') throw_type(op_, name, "must be 'cpu' or 'cuda:N'; got '" + s + "'");
        idx = idx * 10 + (s[k] - '0');
      }
      return cr::Device{cr::DeviceType::CUDA, idx};
    }
  }
  throw_type(op_, name, "must be 'cpu' or 'cuda:N'; got '" + s + "'");
}

void expect_rank(const char* op, const char* name, const cr::Tensor& t, int rank) {
  if (t.rank() != rank) throw_range(op, name, "must be " + std::to_string(rank) + "-D, got " + t.describe());
}

void expect_dtype(const char* op, const char* name, const cr::Tensor& t, cr::DType dtype) {
  if (t.dtype != dtype) throw_type(op, name, std::string("must be ") + cr::dtype_name(dtype) + ", got " + t.describe());
}

void expect_floating(const char* op, const char* name, const cr::Tensor& t) {
  if (!cr::is_floating(t.dtype)) throw_type(op, name, "must be float32, float16 or bfloat16, got " + t.describe());
}

void expect_same_device(const char* op, const char* name, const cr::Tensor& t, const char* ref_name,
                        const cr::Tensor& ref) {
  if (t.device() != ref.device())
    throw_type(op, name,
               "must be on the same device as '" + std::string(ref_name) + "' (" + ref.device().str() + "), got " +
                   t.device().str());
}

void expect_same_shape(const char* op, const char* name, const cr::Tensor& t, const char* ref_name,
                       const cr::Tensor& ref) {
  if (t.shape != ref.shape)
    throw_range(op, name,
                "must have the shape of '" + std::string(ref_name) + "' " + cr::shape_str(ref.shape) + ", got " +
                    cr::shape_str(t.shape));
}

void expect_like(const char* op, const char* name, const cr::Tensor& t, const char* ref_name, const cr::Tensor& ref) {
  expect_same_device(op, name, t, ref_name, ref);
  expect_same_shape(op, name, t, ref_name, ref);
  if (t.dtype != ref.dtype || (t.rank() == 4 && t.layout != ref.layout))
    throw_type(op, name, "must match '" + std::string(ref_name) + "' (" + ref.describe() + "), got " + t.describe());
}

void expect_shape(const char* op, const char* name, const cr::Tensor& t, const cr::Shape& shape) {
  if (t.shape != shape)
    throw_range(op, name, "must have shape " + cr::shape_str(shape) + ", got " + cr::shape_str(t.shape));
}

void expect_layout_fits(const char* op, const char* name, cr::Layout layout, size_t rank) {
  if (layout == cr::Layout::NHWC && rank != 4)
    throw_range(op, name,
                "must be NCHW for a " + std::to_string(rank) + "-D tensor (only 4-D tensors have a layout), got NHWC");
}

void expect_update_scalars(const char* op, const cr::Tensor* lr_device, const cr::Tensor* skip_flag,
                           const cr::Tensor& first_param) {
  if (lr_device) {
    expect_dtype(op, "lrDevice", *lr_device, cr::DType::F32);
    expect_shape(op, "lrDevice", *lr_device, {1});
    expect_same_device(op, "lrDevice", *lr_device, "params[0]", first_param);
  }
  if (skip_flag) {
    expect_dtype(op, "skipFlag", *skip_flag, cr::DType::F32);
    if (skip_flag->numel() < 1) throw_range(op, "skipFlag", "must have at least one element");
    expect_same_device(op, "skipFlag", *skip_flag, "params[0]", first_param);
  }
}

void expect_no_alias(const char* op, const std::vector<TensorUse>& uses) {
  struct Span {
    const void* storage;
    size_t begin, end;
    const TensorUse* use;
  };
  std::vector<Span> spans;
  spans.reserve(uses.size());
  for (const TensorUse& u : uses)
    if (u.tensor && u.tensor->defined())
      spans.push_back(
          {u.tensor->storage.get(), u.tensor->offset_bytes, u.tensor->offset_bytes + u.tensor->nbytes(), &u});
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.storage != b.storage ? std::less<const void*>()(a.storage, b.storage) : a.begin < b.begin;
  });
  // Sweep each storage in offset order, keeping the furthest end seen (any argument, and
  // written ones): a span overlaps an earlier one exactly when it starts before that end.
  const Span* far_any = nullptr;
  const Span* far_written = nullptr;
  for (size_t k = 0; k < spans.size(); k++) {
    const Span& s = spans[k];
    if (k > 0 && spans[k - 1].storage != s.storage) far_any = far_written = nullptr;
    const Span* hit = nullptr;
    if (s.use->written && far_any && far_any->end > s.begin)
      hit = far_any;
    else if (far_written && far_written->end > s.begin)
      hit = far_written;
    if (hit) {
      // Name them in argument order, so the message reads the way the call was written.
      const TensorUse* first = hit->use < s.use ? hit->use : s.use;
      const TensorUse* second = hit->use < s.use ? s.use : hit->use;
      cr::throw_aliased(op, second->name, first->name);
    }
    if (!far_any || s.end > far_any->end) far_any = &s;
    if (s.use->written && (!far_written || s.end > far_written->end)) far_written = &s;
  }
}

}  // namespace crjs
