// Builds a training batch on the device from the resident uint8 dataset: gather rows by
// index, crop from the zero-padded image, mirror, normalise and convert to the compute
// dtype and layout, in one pass (one thread per output element).
// Mirroring applies to the crop: out[.., w] = crop[.., W - 1 - w] (torchvision's
// RandomCrop followed by RandomHorizontalFlip).
// Device-resident indices cannot be checked on the host: a row outside [0, M) yields NaN
// pixels (and label -1) instead of an out-of-bounds read that would poison the context.
#include "../context.h"
#include "common.cuh"

namespace cr {
namespace cuda {
namespace {

constexpr int kMaxChannels = 16;

struct Norm {
  float mean[kMaxChannels];
  float stdev[kMaxChannels];
};

template <typename T>
__global__ void augment_kernel(const uint8_t* images, int64_t M, const int32_t* indices, const int32_t* params,
                               int64_t B, int64_t C, int64_t H, int64_t W, int pad, Norm norm, bool nhwc, T* out) {
  int64_t total = B * C * H * W;
  CR_GRID_STRIDE(i, total) {
    int64_t b, c, h, w;
    if (nhwc) {
      c = i % C;
      int64_t r = i / C;
      w = r % W;
      r /= W;
      h = r % H;
      b = r / H;
    } else {
      w = i % W;
      int64_t r = i / W;
      h = r % H;
      r /= H;
      c = r % C;
      b = r / C;
    }
    int64_t row = indices[b];
    if (row < 0 || row >= M) {
      out[i] = from_f<T>(__int_as_float(0x7fc00000));
      continue;
    }
    int dy = params[b * 3], dx = params[b * 3 + 1], flip = params[b * 3 + 2];
    int64_t sw = flip ? W - 1 - w : w;
    int64_t yy = h + dy - pad, xx = sw + dx - pad;
    float v = 0.f;
    if (yy >= 0 && yy < H && xx >= 0 && xx < W) v = images[((row * C + c) * H + yy) * W + xx];
    out[i] = from_f<T>((v / 255.f - norm.mean[c]) / norm.stdev[c]);
  }
}

__global__ void gather_labels_kernel(const uint8_t* labels, int64_t M, const int32_t* indices, int32_t* out,
                                     int64_t B) {
  CR_GRID_STRIDE(i, B) {
    int64_t row = indices[i];
    out[i] = row >= 0 && row < M ? labels[row] : -1;
  }
}

}  // namespace
}  // namespace cuda

Tensor CudaBackend::augment_batch(const Tensor& images, const Tensor& indices, const Tensor& params,
                                  const std::vector<float>& mean, const std::vector<float>& stdev, int pad, DType dtype,
                                  Layout layout) {
  cuda::DeviceGuard g(ctx_->index);
  const char* op = "augmentBatch";
  int64_t B = indices.dim(0), C = images.dim(1), H = images.dim(2), W = images.dim(3);
  if (C > cuda::kMaxChannels)
    throw_range(
        op, "images",
        "may have at most " + std::to_string(cuda::kMaxChannels) + " channels on CUDA, got " + images.describe());
  cuda::Norm norm{};
  for (int64_t c = 0; c < C; c++) {
    norm.mean[c] = mean[c];
    norm.stdev[c] = stdev[c];
  }
  Tensor out = cuda::new_tensor(*ctx_, {B, C, H, W}, dtype, layout, op);
  bool nhwc = layout == Layout::NHWC;
  cuda::dispatch_float(dtype, op, [&](auto t) {
    using T = typename decltype(t)::type;
    cuda::augment_kernel<T><<<cuda::grid_for(*ctx_, out.numel()), 256, 0, ctx_->stream>>>(
        images.data<uint8_t>(), images.dim(0), indices.data<int32_t>(), params.data<int32_t>(), B, C, H, W, pad, norm,
        nhwc, out.data<T>());
  });
  CR_LAUNCH_CHECK(op, cuda::describe_args({{"images", &images}, {"indices", &indices}}));
  return out;
}

Tensor CudaBackend::gather_labels(const Tensor& labels, const Tensor& indices) {
  cuda::DeviceGuard g(ctx_->index);
  int64_t B = indices.dim(0);
  Tensor out = cuda::new_tensor(*ctx_, {B}, DType::I32, Layout::NCHW, "gatherLabels");
  cuda::gather_labels_kernel<<<cuda::grid_for(*ctx_, B), 256, 0, ctx_->stream>>>(
      labels.data<uint8_t>(), labels.dim(0), indices.data<int32_t>(), out.data<int32_t>(), B);
  CR_LAUNCH_CHECK("gatherLabels", cuda::describe_args({{"labels", &labels}, {"indices", &indices}}));
  return out;
}

}  // namespace cr
