// Many tensors per launch (SGD over every parameter, L2 norms of every gradient): up to
// kMaxTensors pointers travel by value in the kernel's parameters, so a launch needs no
// host-to-device upload and stays capturable in a CUDA graph. Each block handles one chunk
// of one tensor; block_start maps blocks to tensors.
#pragma once
#include <cstdint>
#include <vector>

namespace cr {
namespace cuda {

constexpr int kMaxTensors = 32;
constexpr int64_t kChunk = 16384;  // elements per block

template <int P>  // P pointers per tensor (param, grad, buf = 3)
struct TensorBatch {
  void* ptr[P][kMaxTensors];
  int64_t n[kMaxTensors];
  int block_start[kMaxTensors + 1];
  int index[kMaxTensors];  // position of the tensor in the caller's list
  int count;
};

template <int P>
__device__ __forceinline__ int batch_tensor_of(const TensorBatch<P>& b, int block) {
  int t = 0;
  while (t + 1 < b.count && b.block_start[t + 1] <= block) t++;
  return t;
}

// Splits tensors 0..count-1 into batches; `add(batch, i)` fills ptr[..][slot] for tensor i.
template <int P, typename Add, typename Launch>
void for_each_batch(int count, const std::vector<int64_t>& sizes, Add add, Launch launch) {
  TensorBatch<P> b{};
  int blocks = 0;
  auto flush = [&] {
    if (b.count == 0) return;
    b.block_start[b.count] = blocks;
    launch(b, blocks);
    b = TensorBatch<P>{};
    blocks = 0;
  };
  for (int i = 0; i < count; i++) {
    if (b.count == kMaxTensors) flush();
    int slot = b.count++;
    add(b, slot, i);
    b.n[slot] = sizes[i];
    b.index[slot] = i;
    b.block_start[slot] = blocks;
    blocks += static_cast<int>((sizes[i] + kChunk - 1) / kChunk);
  }
  flush();
}

}  // namespace cuda
}  // namespace cr
