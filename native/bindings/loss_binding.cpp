// Softmax cross-entropy bindings: logits [N, C] float, labels [N] int32 in [0, C), and an
// optional label smoothing in [0, 1] (default 0) as the last argument.
//
// Label range: for CPU tensors the binding reads the labels and throws a RangeError naming
// 'labels' for any value outside [0, C). For CUDA tensors it does NOT: reading them would
// cost a device-to-host copy and a synchronisation on every step and cannot happen inside
// a captured CUDA graph, so the CUDA kernels must guard against such labels themselves.
#include "../core/backend.h"
#include "args.h"
#include "ops.h"
#include "tensor_handle.h"

namespace crjs {

namespace {

void check_logits_labels(const Args& a, const cr::Tensor& logits, const cr::Tensor& labels) {
  expect_rank(a.op(), "logits", logits, 2);
  expect_floating(a.op(), "logits", logits);
  expect_same_device(a.op(), "labels", labels, "logits", logits);
  expect_dtype(a.op(), "labels", labels, cr::DType::I32);
  expect_shape(a.op(), "labels", labels, {logits.shape[0]});
  if (labels.device().type != cr::DeviceType::CPU) return;
  const int32_t* lab = labels.data<int32_t>();
  const int64_t C = logits.shape[1];
  for (int64_t n = 0; n < labels.shape[0]; n++)
    if (lab[n] < 0 || lab[n] >= C)
      cr::throw_range(a.op(), "labels",
                      "must lie in [0, " + std::to_string(C) + "), got " + std::to_string(lab[n]) + " at index " +
                          std::to_string(n));
}

// The optional last argument; undefined means no smoothing (PyTorch's range [0, 1]).
float label_smoothing(const Napi::CallbackInfo& info, const Args& a, size_t i) {
  if (info.Length() <= i || info[i].IsUndefined()) return 0.f;
  double eps = a.number(i, "labelSmoothing");
  if (eps < 0 || eps > 1) cr::throw_range(a.op(), "labelSmoothing", "must lie in [0, 1], got " + std::to_string(eps));
  return static_cast<float>(eps);
}

}  // namespace

Napi::Value SoftmaxCrossEntropyForward(const Napi::CallbackInfo& info) {
  Args a(info, "softmaxCrossEntropyForward", 2, 3);
  const cr::Tensor& logits = a.tensor(0, "logits");
  const cr::Tensor& labels = a.tensor(1, "labels");
  check_logits_labels(a, logits, labels);
  const float eps = label_smoothing(info, a, 2);
  cr::CrossEntropyForward r = cr::backend_for(logits.device()).softmax_cross_entropy_forward(logits, labels, eps);
  Napi::Object o = Napi::Object::New(a.env());
  o.Set("loss", TensorHandle::Wrap(a.env(), r.loss));
  o.Set("correct", TensorHandle::Wrap(a.env(), r.correct));
  return o;
}

Napi::Value SoftmaxCrossEntropyBackward(const Napi::CallbackInfo& info) {
  Args a(info, "softmaxCrossEntropyBackward", 3, 4);
  const cr::Tensor& logits = a.tensor(0, "logits");
  const cr::Tensor& labels = a.tensor(1, "labels");
  const cr::Tensor& grad_loss = a.tensor(2, "gradLoss");
  check_logits_labels(a, logits, labels);
  expect_same_device(a.op(), "gradLoss", grad_loss, "logits", logits);
  expect_dtype(a.op(), "gradLoss", grad_loss, cr::DType::F32);
  expect_shape(a.op(), "gradLoss", grad_loss, {1});
  const float eps = label_smoothing(info, a, 3);
  return TensorHandle::Wrap(
      a.env(), cr::backend_for(logits.device()).softmax_cross_entropy_backward(logits, labels, grad_loss, eps));
}

}  // namespace crjs
