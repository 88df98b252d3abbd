// Training-batch assembly from the resident uint8 dataset: gather rows, crop from the
// zero-padded image, mirror, normalise and convert, all in one pass per output plane, and
// the matching label gather. The binding has checked every index and crop parameter, so
// the loops here index without bounds checks. The CUDA kernel implements the same formula
// ((v / 255 - mean[c]) / std[c] in fp32) so both backends agree for the same params.
#include <algorithm>
#include <string>

#include "../core/errors.h"
#include "cpu_backend.h"
#include "parallel.h"

namespace cr {

namespace {

// Writes one normalised value at element offset `o` of the output, in its dtype.
template <DType D>
inline void put(void* out, int64_t o, float v) {
  if constexpr (D == DType::F32)
    static_cast<float*>(out)[o] = v;
  else if constexpr (D == DType::F16)
    static_cast<uint16_t*>(out)[o] = float_to_half(v);
  else
    static_cast<uint16_t*>(out)[o] = float_to_bf16(v);
}

template <DType D>
void augment_planes(const Tensor& images, const Tensor& indices, const Tensor& params, const std::vector<float>& mean,
                    const std::vector<float>& stdev, int pad, Layout layout, const Tensor& out) {
  const int64_t B = indices.dim(0), C = images.dim(1), H = images.dim(2), W = images.dim(3);
  const uint8_t* src = images.data<uint8_t>();
  const int32_t* idx = indices.data<int32_t>();
  const int32_t* prm = params.data<int32_t>();
  void* dst = out.raw();
  // Element strides of the output for (b, c, y, x) in either memory order.
  const int64_t sb = C * H * W;
  const int64_t sc = layout == Layout::NHWC ? 1 : H * W;
  const int64_t sy = layout == Layout::NHWC ? W * C : W;
  const int64_t sx = layout == Layout::NHWC ? C : 1;

  // A 256-entry table per channel: the normalised value of every possible byte, computed
  // with the contract's exact expression so the table changes nothing but the speed.
  std::vector<float> lut(static_cast<size_t>(C) * 256);
  for (int64_t c = 0; c < C; c++)
    for (int v = 0; v < 256; v++) lut[c * 256 + v] = (static_cast<float>(v) / 255.f - mean[c]) / stdev[c];

  parallel_for(B * C, 16, [&](int64_t begin, int64_t end) {
    for (int64_t bc = begin; bc < end; bc++) {
      const int64_t b = bc / C, c = bc % C;
      const int32_t dy = prm[b * 3], dx = prm[b * 3 + 1];
      const bool flip = prm[b * 3 + 2] != 0;
      const uint8_t* plane = src + (static_cast<int64_t>(idx[b]) * C + c) * H * W;
      const float* table = &lut[c * 256];
      const float zero = table[0];  // padded pixels are v = 0
      const int64_t base = b * sb + c * sc;
      for (int64_t y = 0; y < H; y++) {
        const int64_t sy_src = y + dy - pad;  // row in the unpadded image
        const int64_t o = base + y * sy;
        if (sy_src < 0 || sy_src >= H) {
          for (int64_t x = 0; x < W; x++) put<D>(dst, o + x * sx, zero);
          continue;
        }
        const uint8_t* row = plane + sy_src * W;
        // The mirror applies to the crop: output column x shows crop column W-1-x, i.e.
        // source column (flip ? W-1-x : x) + dx - pad. [x0, x1) is where that is inside.
        const int64_t shift = dx - pad;
        const int64_t x0 = std::max<int64_t>(0, flip ? shift : -shift);
        const int64_t x1 = std::min<int64_t>(W, flip ? W + shift : W - shift);
        for (int64_t x = 0; x < std::min(x0, W); x++) put<D>(dst, o + x * sx, zero);
        if (flip) {
          const int64_t last = W - 1 + shift;
          for (int64_t x = x0; x < x1; x++) put<D>(dst, o + x * sx, table[row[last - x]]);
        } else {
          for (int64_t x = x0; x < x1; x++) put<D>(dst, o + x * sx, table[row[x + shift]]);
        }
        for (int64_t x = std::max(x1, x0); x < W; x++) put<D>(dst, o + x * sx, zero);
      }
    }
  });
}

}  // namespace

Tensor CpuBackend::augment_batch(const Tensor& images, const Tensor& indices, const Tensor& params,
                                 const std::vector<float>& mean, const std::vector<float>& stdev, int pad, DType dtype,
                                 Layout layout) {
  Tensor out = empty({indices.dim(0), images.dim(1), images.dim(2), images.dim(3)}, dtype, layout);
  switch (dtype) {
    case DType::F32: augment_planes<DType::F32>(images, indices, params, mean, stdev, pad, layout, out); break;
    case DType::F16: augment_planes<DType::F16>(images, indices, params, mean, stdev, pad, layout, out); break;
    case DType::BF16: augment_planes<DType::BF16>(images, indices, params, mean, stdev, pad, layout, out); break;
    default: throw_runtime("augmentBatch", std::string("cpu: unsupported output dtype ") + dtype_name(dtype));
  }
  return out;
}

Tensor CpuBackend::gather_labels(const Tensor& labels, const Tensor& indices) {
  Tensor out = empty({indices.dim(0)}, DType::I32, Layout::NCHW);
  const uint8_t* l = labels.data<uint8_t>();
  const int32_t* idx = indices.data<int32_t>();
  int32_t* o = out.data<int32_t>();
  for (int64_t i = 0; i < indices.dim(0); i++) o[i] = l[idx[i]];
  return out;
}

}  // namespace cr
