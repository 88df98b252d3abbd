// sum(x) -> [1] float32; l2Norms(xs) -> [n] float32, one L2 norm per tensor. Inputs may be
// any float dtype and layout; a list must be non-empty and on one device.
// Then the reductions over axes: reduceAxes, maxAxis, topk and scatterAddAxis (the backward
// of maxAxis and topk); axes count from the end when negative.
#include <string>

#include "../core/backend.h"
#include "args.h"
#include "axis_args.h"
#include "ops.h"
#include "tensor_handle.h"

namespace crjs {

Napi::Value Sum(const Napi::CallbackInfo& info) {
  Args a(info, "sum", 1);
  const cr::Tensor& x = a.tensor(0, "x");
  expect_floating(a.op(), "x", x);
  return TensorHandle::Wrap(a.env(), cr::backend_for(x.device()).sum(x));
}

Napi::Value L2Norms(const Napi::CallbackInfo& info) {
  Args a(info, "l2Norms", 1);
  std::vector<cr::Tensor> xs = a.tensor_list(0, "xs");
  if (xs.empty()) cr::throw_range(a.op(), "xs", "must hold at least one tensor");
  for (size_t i = 0; i < xs.size(); i++) {
    std::string n = "xs[" + std::to_string(i) + "]";
    expect_floating(a.op(), n.c_str(), xs[i]);
    expect_same_device(a.op(), n.c_str(), xs[i], "xs[0]", xs[0]);
  }
  return TensorHandle::Wrap(a.env(), cr::backend_for(xs[0].device()).l2_norms(xs));
}

Napi::Value ReduceAxes(const Napi::CallbackInfo& info) {
  Args a(info, "reduceAxes", 4);
  const cr::Tensor& x = a.tensor(0, "x");
  std::vector<int> axes = read_axes(info, a, 1, "dim", x.rank());
  bool keepdim = a.boolean(2, "keepdim");
  cr::ReduceMode mode =
      read_choice<cr::ReduceMode>(a, 3, "mode", {{"sum", cr::ReduceMode::Sum}, {"mean", cr::ReduceMode::Mean}});
  expect_floating(a.op(), "x", x);
  return TensorHandle::Wrap(a.env(), cr::backend_for(x.device()).reduce_axes(x, axes, keepdim, mode));
}

static Napi::Value pair_object(Napi::Env env, const cr::TensorPair& p) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("values", TensorHandle::Wrap(env, p.values));
  o.Set("indices", TensorHandle::Wrap(env, p.indices));
  return o;
}

Napi::Value MaxAxis(const Napi::CallbackInfo& info) {
  Args a(info, "maxAxis", 3);
  const cr::Tensor& x = a.tensor(0, "x");
  int axis = read_axis(a, 1, "dim", x.rank());
  bool keepdim = a.boolean(2, "keepdim");
  expect_floating(a.op(), "x", x);
  if (x.dim(axis) > INT32_MAX) cr::throw_range(a.op(), "x", "axis is too long for int32 indices");
  return pair_object(a.env(), cr::backend_for(x.device()).max_axis(x, axis, keepdim));
}

Napi::Value Topk(const Napi::CallbackInfo& info) {
  Args a(info, "topk", 4);
  const cr::Tensor& x = a.tensor(0, "x");
  int axis = read_axis(a, 2, "dim", x.rank());
  int64_t k = a.integer(1, "k", 1, x.dim(axis));
  bool largest = a.boolean(3, "largest");
  expect_floating(a.op(), "x", x);
  if (x.dim(axis) > INT32_MAX) cr::throw_range(a.op(), "x", "axis is too long for int32 indices");
  return pair_object(a.env(), cr::backend_for(x.device()).topk(x, k, axis, largest));
}

Napi::Value ScatterAddAxis(const Napi::CallbackInfo& info) {
  Args a(info, "scatterAddAxis", 4);
  const cr::Tensor& src = a.tensor(0, "src");
  const cr::Tensor& idx = a.tensor(1, "indices");
  int axis = read_axis(a, 2, "dim", src.rank());
  cr::Shape shape = a.shape(3, "shape");
  expect_floating(a.op(), "src", src);
  expect_same_device(a.op(), "indices", idx, "src", src);
  expect_same_shape(a.op(), "indices", idx, "src", src);
  cr::Shape want = shape;
  if (want.size() == src.shape.size()) want[axis] = src.dim(axis);
  if (want != src.shape)
    cr::throw_range(a.op(), "shape",
                    cr::shape_str(shape) + " must equal the shape of 'src' " + cr::shape_str(src.shape) +
                        " except along dim " + std::to_string(axis));
  expect_indices(a.op(), "indices", idx, shape[axis]);
  return TensorHandle::Wrap(a.env(), cr::backend_for(src.device()).scatter_add_axis(src, idx, axis, shape));
}

}  // namespace crjs
