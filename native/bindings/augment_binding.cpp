// augmentBatch and gatherLabels. Besides shapes and dtypes, these check the *values* of the
// small index and parameter tensors when they live on the host: a bad row index or crop
// offset would make the CPU backend read outside the dataset. Device tensors are not read
// back (that would synchronise the stream once per batch and could not be captured in a
// CUDA graph); the CUDA kernels bounds-check every row and pixel instead, turning a bad
// index into NaN pixels and label -1 rather than an out-of-bounds read.
#include <cmath>
#include <string>
#include <vector>

#include "../core/backend.h"
#include "args.h"
#include "ops.h"
#include "tensor_handle.h"

namespace crjs {

namespace {

constexpr int kMaxPad = 64;

// The int32 values of a host tensor; empty for device tensors, which are not checked.
std::vector<int32_t> host_ints(const cr::Tensor& t) {
  if (t.device().type != cr::DeviceType::CPU) return {};
  const int32_t* p = t.data<int32_t>();
  return std::vector<int32_t>(p, p + t.numel());
}

// indices: 1-D int32 on `ref`'s device, every value in [0, rows).
std::vector<int32_t> checked_indices(const char* op, const cr::Tensor& indices, const char* ref_name,
                                     const cr::Tensor& ref) {
  expect_dtype(op, "indices", indices, cr::DType::I32);
  expect_rank(op, "indices", indices, 1);
  expect_same_device(op, "indices", indices, ref_name, ref);
  const int64_t rows = ref.dim(0);
  std::vector<int32_t> v = host_ints(indices);
  for (size_t i = 0; i < v.size(); i++)
    if (v[i] < 0 || v[i] >= rows)
      cr::throw_range(op, "indices",
                      "must hold row numbers in [0, " + std::to_string(rows) + ") of '" + ref_name + "', got " +
                          std::to_string(v[i]) + " at position " + std::to_string(i));
  return v;
}

std::vector<float> checked_channel_values(const Args& a, size_t i, const char* name, int64_t channels, bool positive) {
  std::vector<float> v = a.float_array(i, name, static_cast<size_t>(channels));
  for (size_t c = 0; c < v.size(); c++) {
    if (!std::isfinite(v[c]))  // finite as a double yet overflowing float
      cr::throw_range(a.op(), std::string(name) + "[" + std::to_string(c) + "]", "must be a finite float32 value");
    if (positive && !(v[c] > 0.f))
      cr::throw_range(a.op(), std::string(name) + "[" + std::to_string(c) + "]",
                      "must be > 0, got " + std::to_string(v[c]));
  }
  return v;
}

}  // namespace

Napi::Value AugmentBatch(const Napi::CallbackInfo& info) {
  Args a(info, "augmentBatch", 8);
  const cr::Tensor& images = a.tensor(0, "images");
  const cr::Tensor& indices = a.tensor(1, "indices");
  const cr::Tensor& params = a.tensor(2, "params");
  expect_dtype(a.op(), "images", images, cr::DType::U8);
  expect_rank(a.op(), "images", images, 4);
  if (images.layout != cr::Layout::NCHW) cr::throw_type(a.op(), "images", "must be NCHW, got " + images.describe());

  expect_dtype(a.op(), "params", params, cr::DType::I32);
  expect_rank(a.op(), "params", params, 2);
  expect_same_device(a.op(), "params", params, "images", images);
  checked_indices(a.op(), indices, "images", images);
  const int64_t batch = indices.dim(0);
  expect_shape(a.op(), "params", params, {batch, 3});

  const int64_t channels = images.dim(1);
  std::vector<float> mean = checked_channel_values(a, 3, "mean", channels, false);
  std::vector<float> stdev = checked_channel_values(a, 4, "std", channels, true);
  const int pad = static_cast<int>(a.integer(5, "pad", 0, kMaxPad));
  cr::DType dtype = a.dtype(6, "dtype");
  if (!cr::is_floating(dtype))
    cr::throw_type(a.op(), "dtype", std::string("must be float32, float16 or bfloat16, got ") + cr::dtype_name(dtype));
  cr::Layout layout = a.layout(7, "layout");

  std::vector<int32_t> p = host_ints(params);
  for (int64_t b = 0; b < static_cast<int64_t>(p.size() / 3); b++) {
    const int32_t dy = p[b * 3], dx = p[b * 3 + 1], flip = p[b * 3 + 2];
    const std::string at = " at row " + std::to_string(b) + " (dy, dx, flip) = (" + std::to_string(dy) + ", " +
                           std::to_string(dx) + ", " + std::to_string(flip) + ")";
    if (dy < 0 || dy > 2 * pad || dx < 0 || dx > 2 * pad)
      cr::throw_range(a.op(), "params",
                      "crop offsets must be in [0, 2 * pad] = [0, " + std::to_string(2 * pad) + "]" + at);
    if (flip != 0 && flip != 1) cr::throw_range(a.op(), "params", "flip must be 0 or 1" + at);
  }

  cr::Tensor out =
      cr::backend_for(images.device()).augment_batch(images, indices, params, mean, stdev, pad, dtype, layout);
  return TensorHandle::Wrap(a.env(), std::move(out));
}

Napi::Value GatherLabels(const Napi::CallbackInfo& info) {
  Args a(info, "gatherLabels", 2);
  const cr::Tensor& labels = a.tensor(0, "labels");
  const cr::Tensor& indices = a.tensor(1, "indices");
  expect_dtype(a.op(), "labels", labels, cr::DType::U8);
  expect_rank(a.op(), "labels", labels, 1);
  checked_indices(a.op(), indices, "labels", labels);
  return TensorHandle::Wrap(a.env(), cr::backend_for(labels.device()).gather_labels(labels, indices));
}

}  // namespace crjs
