// Dtype casts and layout conversions on the CPU (the twin of cuda/kernels/convert.cu), and the
// fp32 NCHW staging that lets the other CPU ops compute in one dtype and one layout.
#include <cstring>
#include <vector>

#include "cpu_backend.h"
#include "parallel.h"

namespace cr {

float load_float(const Tensor& t, int64_t i) {
  switch (t.dtype) {
    case DType::F32: return t.data<float>()[i];
    case DType::F16: return half_to_float(t.data<uint16_t>()[i]);
    case DType::BF16: return bf16_to_float(t.data<uint16_t>()[i]);
    case DType::I32: return static_cast<float>(t.data<int32_t>()[i]);
    case DType::U8: return static_cast<float>(t.data<uint8_t>()[i]);
  }
  return 0.f;
}

void store_float(const Tensor& t, int64_t i, float v) {
  switch (t.dtype) {
    case DType::F32: t.data<float>()[i] = v; break;
    case DType::F16: t.data<uint16_t>()[i] = float_to_half(v); break;
    case DType::BF16: t.data<uint16_t>()[i] = float_to_bf16(v); break;
    case DType::I32: t.data<int32_t>()[i] = static_cast<int32_t>(v); break;
    case DType::U8: t.data<uint8_t>()[i] = static_cast<uint8_t>(v); break;
  }
}

Tensor CpuBackend::cast(const Tensor& x, DType dtype) {
  Tensor y = empty(x.shape, dtype, x.layout);
  int64_t n = x.numel();
  if (x.dtype == dtype) {
    copy_(y, x);
    return y;
  }
  if (x.dtype == DType::I32 && dtype != DType::I32) {
    // Integers convert exactly through double for every target type.
    parallel_for(n, 1 << 15, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; i++) store_float(y, i, static_cast<float>(x.data<int32_t>()[i]));
    });
    return y;
  }
  parallel_for(n, 1 << 15, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) store_float(y, i, load_float(x, i));
  });
  return y;
}

Tensor CpuBackend::to_layout(const Tensor& x, Layout layout) {
  if (x.layout == layout || x.rank() != 4) {
    Tensor y = empty(x.shape, x.dtype, layout);
    copy_(y, x);
    return y;
  }
  Tensor y = empty(x.shape, x.dtype, layout);
  const int64_t N = x.shape[0], C = x.shape[1], HW = x.shape[2] * x.shape[3];
  const size_t es = dtype_size(x.dtype);
  const char* src = static_cast<const char*>(x.raw());
  char* dst = static_cast<char*>(y.raw());
  const bool to_nhwc = layout == Layout::NHWC;
  parallel_for(N * C, 64, [&](int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; nc++) {
      int64_t n = nc / C, c = nc % C;
      for (int64_t p = 0; p < HW; p++) {
        int64_t nchw = (n * C + c) * HW + p, nhwc = (n * HW + p) * C + c;
        if (to_nhwc)
          std::memcpy(dst + nhwc * es, src + nchw * es, es);
        else
          std::memcpy(dst + nchw * es, src + nhwc * es, es);
      }
    }
  });
  return y;
}

// The CPU does it in two passes; the result is the same as CUDA's single pass (a cast
// rounds each element once whatever the order of the permutation).
Tensor CpuBackend::convert(const Tensor& x, DType dtype, Layout layout) {
  if (x.rank() != 4 || x.layout == layout) return cast(x, dtype);
  if (x.dtype == dtype) return to_layout(x, layout);
  return to_layout(cast(x, dtype), layout);
}

std::vector<float> to_f32_nchw(const Tensor& t) {
  std::vector<float> out(static_cast<size_t>(t.numel()));
  if (t.rank() == 4 && t.layout == Layout::NHWC) {
    const int64_t N = t.shape[0], C = t.shape[1], HW = t.shape[2] * t.shape[3];
    parallel_for(N * C, 64, [&](int64_t b, int64_t e) {
      for (int64_t nc = b; nc < e; nc++) {
        int64_t n = nc / C, c = nc % C;
        for (int64_t p = 0; p < HW; p++) out[(n * C + c) * HW + p] = load_float(t, (n * HW + p) * C + c);
      }
    });
    return out;
  }
  if (t.dtype == DType::F32) {
    std::memcpy(out.data(), t.raw(), t.nbytes());
    return out;
  }
  parallel_for(t.numel(), 1 << 15, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) out[i] = load_float(t, i);
  });
  return out;
}

Tensor from_f32_nchw(const std::vector<float>& v, const Shape& shape, DType dtype, Layout layout) {
  Tensor y = cpu_backend().empty(shape, dtype, layout);
  if (y.rank() == 4 && y.layout == Layout::NHWC) {
    const int64_t N = shape[0], C = shape[1], HW = shape[2] * shape[3];
    parallel_for(N * C, 64, [&](int64_t b, int64_t e) {
      for (int64_t nc = b; nc < e; nc++) {
        int64_t n = nc / C, c = nc % C;
        for (int64_t p = 0; p < HW; p++) store_float(y, (n * HW + p) * C + c, v[(n * C + c) * HW + p]);
      }
    });
    return y;
  }
  if (dtype == DType::F32) {
    std::memcpy(y.raw(), v.data(), y.nbytes());
    return y;
  }
  parallel_for(y.numel(), 1 << 15, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) store_float(y, i, v[i]);
  });
  return y;
}

const float* f32_view(const Tensor& t, std::vector<float>& hold) {
  if (t.dtype == DType::F32 && (t.rank() != 4 || t.layout == Layout::NCHW)) return t.data<float>();
  hold = to_f32_nchw(t);
  return hold.data();
}

F32Result::F32Result(Backend& be, const Shape& shape, DType dtype, Layout layout)
    : shape_(shape), dtype_(dtype), layout_(layout) {
  if (dtype == DType::F32 && (shape.size() != 4 || layout == Layout::NCHW)) {
    direct_ = be.empty(shape, dtype, layout);
    ptr_ = direct_.data<float>();
  } else {
    staged_.resize(static_cast<size_t>(shape_numel(shape)));
    ptr_ = staged_.data();
  }
}

Tensor F32Result::finish() { return direct_.defined() ? direct_ : from_f32_nchw(staged_, shape_, dtype_, layout_); }

}  // namespace cr
