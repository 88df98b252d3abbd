// Argument reading and validation for bindings. Every failure throws cr::OpError naming the
// op and the argument, which the guard in ops.h turns into a JS TypeError or RangeError.
#pragma once
#include <napi.h>

#include <string>
#include <vector>

#include "../core/tensor.h"

namespace crjs {

class Args {
 public:
  // Throws TypeError unless min_count <= argument count <= max_count.
  Args(const Napi::CallbackInfo& info, const char* op, size_t min_count, size_t max_count);
  Args(const Napi::CallbackInfo& info, const char* op, size_t count) : Args(info, op, count, count) {}

  const char* op() const { return op_; }
  Napi::Env env() const { return info_.Env(); }

  const cr::Tensor& tensor(size_t i, const char* name) const;
  // null or undefined -> nullptr
  const cr::Tensor* optional_tensor(size_t i, const char* name) const;
  std::vector<cr::Tensor> tensor_list(size_t i, const char* name) const;
  double number(size_t i, const char* name) const;  // finite
  // An integer-valued number in [lo, hi]; NaN, fractions and out-of-range values are refused.
  int64_t integer(size_t i, const char* name, int64_t lo, int64_t hi) const;
  bool boolean(size_t i, const char* name) const;
  std::string string(size_t i, const char* name) const;
  // Array of 1..kMaxRank sizes, each >= 1, element count <= kMaxElements.
  cr::Shape shape(size_t i, const char* name) const;
  // Array of exactly `count` integers, each in [lo, hi].
  std::vector<int64_t> int_array(size_t i, const char* name, size_t count, int64_t lo, int64_t hi) const;
  std::vector<float> float_array(size_t i, const char* name, size_t count) const;
  cr::DType dtype(size_t i, const char* name) const;
  cr::Layout layout(size_t i, const char* name) const;
  cr::Device device(size_t i, const char* name) const;

 private:
  const Napi::Value& at(size_t i) const;
  const Napi::CallbackInfo& info_;
  const char* op_;
  mutable Napi::Value scratch_;
};

// ---- checks on tensors already read; each throws naming op and argument ----
void expect_rank(const char* op, const char* name, const cr::Tensor& t, int rank);
void expect_dtype(const char* op, const char* name, const cr::Tensor& t, cr::DType dtype);
void expect_floating(const char* op, const char* name, const cr::Tensor& t);
void expect_same_device(const char* op, const char* name, const cr::Tensor& t, const char* ref_name, const cr::Tensor& ref);
void expect_same_shape(const char* op, const char* name, const cr::Tensor& t, const char* ref_name, const cr::Tensor& ref);
// Same shape, dtype, layout and device as ref.
void expect_like(const char* op, const char* name, const cr::Tensor& t, const char* ref_name, const cr::Tensor& ref);
void expect_shape(const char* op, const char* name, const cr::Tensor& t, const cr::Shape& shape);

}  // namespace crjs
