// The reference backend: every op in plain C++, threaded over the machine's cores. It is
// the truth the CUDA backend is tested against, so clarity wins over cleverness everywhere
// except convolution and GEMM, which must be fast enough to train small nets on a CPU.
#pragma once
#include "../core/backend.h"

namespace cr {

class CpuBackend final : public Backend {
 public:
  Device device() const override { return Device{DeviceType::CPU, 0}; }

  CR_BACKEND_OVERRIDES
};

// The widest vector instructions this CPU has that CUDNN_RESNET_CPU_GEMM's cap allows (avx2:
// at most AVX2; generic: none), fixed when first asked. The memory-bound loops that come in
// AVX-512, AVX2 and baseline builds (batch norm, pooling) pick theirs by it, so a capped
// process runs, and the tests check, the narrower variants on a machine that has wider ones.
enum class VectorIsa { Baseline, Avx2, Avx512 };
VectorIsa cpu_vector_isa();

// Bytes the CPU backend holds from the C allocator for tensor storage: tensors alive and
// freed blocks it keeps for reuse. What the JS binding reports to V8 as external memory.
int64_t cpu_host_bytes();

// Reads element i (in memory order) of a float-typed tensor as fp32, and writes it back.
float load_float(const Tensor& t, int64_t i);
void store_float(const Tensor& t, int64_t i, float v);

// fp32 copy of any floating tensor in NCHW order (the CPU ops compute on these), and the
// write-back into a new tensor of the requested dtype/layout.
std::vector<float> to_f32_nchw(const Tensor& t);
Tensor from_f32_nchw(const std::vector<float>& v, const Shape& shape, DType dtype, Layout layout);

// ---- fp32 operands for ops that compute in fp32 logical order ----

// The fp32 logical-order (NCHW for 4-D) data of a float tensor: its own memory when it
// already is fp32 in that order, else a converted copy held in `hold`.
const float* f32_view(const Tensor& t, std::vector<float>& hold);

// An op result computed in fp32 logical order and delivered in `dtype` / `layout`: written
// straight into the output tensor when that is fp32 NCHW, else staged and converted.
class F32Result {
 public:
  F32Result(Backend& be, const Shape& shape, DType dtype, Layout layout);
  float* data() { return ptr_; }
  Tensor finish();

 private:
  Shape shape_;
  DType dtype_;
  Layout layout_;
  Tensor direct_;
  std::vector<float> staged_;
  float* ptr_ = nullptr;
};

}  // namespace cr
