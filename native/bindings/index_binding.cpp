// slice(x, axis, start, end, step), sliceBackward(dy, axis, start, step, shape),
// indexSelect(x, axis, indices), indexSelectBackward(dy, axis, indices, shape). Float tensors
// of any dtype and layout; results NCHW in the input's dtype. Ranges are normalised by the
// caller (0 <= start < end <= size, step >= 1); index is 1-D int32 within the axis. Axes are
// named `dim` as in PyTorch.
#include "../core/backend.h"
#include "args.h"
#include "axis_args.h"
#include "ops.h"
#include "tensor_handle.h"

namespace crjs {

namespace {

// dy must have `shape` except along axis, where it has `n`.
void expect_grad_shape(const char* op, const cr::Tensor& dy, const cr::Shape& shape, int axis, int64_t n) {
  cr::Shape want = shape;
  if (want.size() != dy.shape.size())
    cr::throw_range(op, "shape", cr::shape_str(shape) + " must have the rank of 'dy' " + cr::shape_str(dy.shape));
  want[axis] = n;
  if (want != dy.shape)
    cr::throw_range(op, "dy", "must have shape " + cr::shape_str(want) + ", got " + cr::shape_str(dy.shape));
}

}  // namespace

Napi::Value Slice(const Napi::CallbackInfo& info) {
  Args a(info, "slice", 5);
  const cr::Tensor& x = a.tensor(0, "x");
  int axis = read_axis(a, 1, "dim", x.rank());
  const int64_t size = x.dim(axis);
  int64_t start = a.integer(2, "start", 0, size - 1);
  int64_t end = a.integer(3, "end", start + 1, size);
  int64_t step = a.integer(4, "step", 1, cr::kMaxElements);
  expect_floating(a.op(), "x", x);
  int64_t count = (end - start + step - 1) / step;
  return TensorHandle::Wrap(a.env(), cr::backend_for(x.device()).slice(x, axis, start, step, count));
}

Napi::Value SliceBackward(const Napi::CallbackInfo& info) {
  Args a(info, "sliceBackward", 5);
  const cr::Tensor& dy = a.tensor(0, "dy");
  int axis = read_axis(a, 1, "dim", dy.rank());
  cr::Shape shape = a.shape(4, "shape");
  expect_floating(a.op(), "dy", dy);
  if (shape.size() != dy.shape.size())
    cr::throw_range(a.op(), "shape", cr::shape_str(shape) + " must have the rank of 'dy' " + cr::shape_str(dy.shape));
  int64_t start = a.integer(2, "start", 0, shape[axis] - 1);
  int64_t step = a.integer(3, "step", 1, cr::kMaxElements);
  if (start + (dy.dim(axis) - 1) * step >= shape[axis])
    cr::throw_range(a.op(), "dy",
                    "has " + std::to_string(dy.dim(axis)) + " entries along dim " + std::to_string(axis) +
                        ", more than the slice of 'shape' " + cr::shape_str(shape) + " holds");
  expect_grad_shape(a.op(), dy, shape, axis, dy.dim(axis));
  return TensorHandle::Wrap(a.env(), cr::backend_for(dy.device()).slice_backward(dy, axis, start, step, shape));
}

Napi::Value IndexSelect(const Napi::CallbackInfo& info) {
  Args a(info, "indexSelect", 3);
  const cr::Tensor& x = a.tensor(0, "x");
  int axis = read_axis(a, 1, "dim", x.rank());
  const cr::Tensor& idx = a.tensor(2, "index");
  expect_floating(a.op(), "x", x);
  expect_rank(a.op(), "index", idx, 1);
  expect_same_device(a.op(), "index", idx, "x", x);
  expect_indices(a.op(), "index", idx, x.dim(axis));
  cr::Shape out = x.shape;
  out[axis] = idx.numel();
  if (cr::shape_numel(out) > cr::kMaxElements)
    cr::throw_range(a.op(), "index", "would make a result of more than 2^36 elements");
  return TensorHandle::Wrap(a.env(), cr::backend_for(x.device()).index_select(x, axis, idx));
}

Napi::Value IndexSelectBackward(const Napi::CallbackInfo& info) {
  Args a(info, "indexSelectBackward", 4);
  const cr::Tensor& dy = a.tensor(0, "dy");
  int axis = read_axis(a, 1, "dim", dy.rank());
  const cr::Tensor& idx = a.tensor(2, "index");
  cr::Shape shape = a.shape(3, "shape");
  expect_floating(a.op(), "dy", dy);
  expect_rank(a.op(), "index", idx, 1);
  expect_same_device(a.op(), "index", idx, "dy", dy);
  expect_grad_shape(a.op(), dy, shape, axis, idx.numel());
  expect_indices(a.op(), "index", idx, shape[axis]);
  return TensorHandle::Wrap(a.env(), cr::backend_for(dy.device()).index_select_backward(dy, axis, idx, shape));
}

}  // namespace crjs
