// Argument reading and validation for bindings. Every failure throws cr::OpError naming the
// op and the argument, which the guard in ops.h turns into a JS TypeError or RangeError.
#pragma once
#include <napi.h>

#include <string>

#include <vector>

#include "../core/tensor.h"

namespace crjs {

// The op whose arguments were read last on this thread (set by Args), so an error raised
// deep in a backend without an op name (out of memory) can still say which call failed.
const char* current_op();
void set_current_op(const char* op);

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
void expect_same_device(const char* op, const char* name, const cr::Tensor& t, const char* ref_name,
                        const cr::Tensor& ref);
void expect_same_shape(const char* op, const char* name, const cr::Tensor& t, const char* ref_name,
                       const cr::Tensor& ref);
// Same shape, dtype, layout and device as ref.
void expect_like(const char* op, const char* name, const cr::Tensor& t, const char* ref_name, const cr::Tensor& ref);
void expect_shape(const char* op, const char* name, const cr::Tensor& t, const cr::Shape& shape);
// Only 4-D tensors have a memory layout; NHWC asked for any other rank is refused.
void expect_layout_fits(const char* op, const char* name, cr::Layout layout, size_t rank);

// The optimizer updates' optional device scalars: lrDevice ([1] fp32, read in place of lr)
// and skipFlag (fp32, element 0 non-zero skips the update), both on the parameters' device.
void expect_update_scalars(const char* op, const cr::Tensor* lr_device, const cr::Tensor* skip_flag,
                           const cr::Tensor& first_param);

// One tensor argument of an op, for the aliasing check: `written` when the op writes it.
struct TensorUse {
  const cr::Tensor* tensor;
  std::string name;
  bool written;
};
// Refuses (ERR_ALIASED_ARGS, naming both arguments) any two arguments whose bytes overlap
// when the op writes at least one of them: an in-place update through one would change what
// the op reads or writes through the other.
void expect_no_alias(const char* op, const std::vector<TensorUse>& uses);

}  // namespace crjs
