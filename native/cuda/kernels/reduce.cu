// sum, L2 norms and per-channel sums. Deterministic by construction: fixed partition of the
// input into blocks, fixed-order tree inside a block, fixed-order final pass, doubles
// throughout; the grid never depends on the GPU model.
#include <vector>

#include "../context.h"
#include "channel_reduce.cuh"
#include "common.cuh"
#include "kernels.h"
#include "multi_tensor.cuh"

namespace cr {
namespace cuda {
namespace {

template <typename T>
__global__ void sum_stage1(const T* x, int64_t n, int64_t chunk, double* partial) {
  int64_t begin = blockIdx.x * chunk, end = min(n, begin + chunk);
  double acc = 0;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) acc += to_f(x[i]);
  acc = block_sum(acc);
  if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

// One block adds `count` partials in a fixed order, then out[0] = op(total).
__global__ void sum_stage2(const double* partial, int64_t count, float* out, bool take_sqrt) {
  double acc = 0;
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) acc += partial[i];
  acc = block_sum(acc);
  if (threadIdx.x == 0) out[0] = static_cast<float>(take_sqrt ? sqrt(acc) : acc);
}

template <typename T>
__global__ void sumsq_multi(TensorBatch<1> b, double* partial) {
  int t = batch_tensor_of(b, blockIdx.x);
  int64_t chunk = blockIdx.x - b.block_start[t];
  const T* x = static_cast<const T*>(b.ptr[0][t]);
  int64_t begin = chunk * kChunk, end = min(b.n[t], begin + kChunk);
  double acc = 0;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    double v = to_f(x[i]);
    acc += v * v;
  }
  acc = block_sum(acc);
  if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

// One block per tensor of the batch: norms[index] = sqrt(sum of its partials, in order).
__global__ void norms_finish(TensorBatch<1> b, const double* partial, float* norms) {
  int t = blockIdx.x;
  double acc = 0;
  for (int i = b.block_start[t] + threadIdx.x; i < b.block_start[t + 1]; i += blockDim.x) acc += partial[i];
  acc = block_sum(acc);
  if (threadIdx.x == 0) norms[b.index[t]] = static_cast<float>(sqrt(acc));
}

template <typename T>
struct SumF {
  const T* x;
  __device__ void operator()(int64_t i, int64_t, double (&acc)[1]) const { acc[0] += to_f(x[i]); }
};

__global__ void doubles_to_float(const double* in, float* out, int64_t n) {
  CR_GRID_STRIDE(i, n) { out[i] = static_cast<float>(in[i]); }
}

}  // namespace

Tensor channel_sum(DeviceContext& ctx, const Tensor& x, const char* op) {
  ChannelGeom g = geom_of(x);
  Tensor out = new_tensor(ctx, {g.C}, DType::F32, Layout::NCHW, op);
  Scratch tot(ctx, static_cast<size_t>(g.C) * sizeof(double), op);
  dispatch_float(x.dtype, op, [&](auto t) {
    using T = typename decltype(t)::type;
    channel_reduce<1>(ctx, g, SumF<T>{x.data<T>()}, tot.as<double>(), op);
  });
  doubles_to_float<<<grid_for(ctx, g.C), 256, 0, ctx.stream>>>(tot.as<double>(), out.data<float>(), g.C);
  CR_LAUNCH_CHECK(op, describe_args({{"x", &x}}));
  return out;
}

}  // namespace cuda

Tensor CudaBackend::sum(const Tensor& x) {
  cuda::DeviceGuard g(ctx_->index);
  Tensor out = cuda::new_tensor(*ctx_, {1}, DType::F32, Layout::NCHW, "sum");
  int64_t n = x.numel();
  int64_t blocks = (n + 65535) / 65536;
  if (blocks > 1024) blocks = 1024;
  int64_t chunk = (n + blocks - 1) / blocks;
  cuda::Scratch partial(*ctx_, static_cast<size_t>(blocks) * sizeof(double), "sum");
  cuda::dispatch_any(x.dtype, "sum", [&](auto t) {
    using T = typename decltype(t)::type;
    cuda::sum_stage1<T>
        <<<static_cast<unsigned>(blocks), 256, 0, ctx_->stream>>>(x.data<T>(), n, chunk, partial.as<double>());
  });
  cuda::sum_stage2<<<1, 256, 0, ctx_->stream>>>(partial.as<double>(), blocks, out.data<float>(), false);
  CR_LAUNCH_CHECK("sum", cuda::describe_args({{"x", &x}}));
  return out;
}

Tensor CudaBackend::l2_norms(const std::vector<Tensor>& xs) {
  cuda::DeviceGuard g(ctx_->index);
  int64_t count = static_cast<int64_t>(xs.size());
  Tensor out = cuda::new_tensor(*ctx_, {count < 1 ? 1 : count}, DType::F32, Layout::NCHW, "l2Norms");
  // Batches are homogeneous in dtype: group runs of equal dtype.
  size_t start = 0;
  while (start < xs.size()) {
    size_t end = start;
    while (end < xs.size() && xs[end].dtype == xs[start].dtype) end++;
    std::vector<int64_t> sizes;
    for (size_t i = start; i < end; i++) sizes.push_back(xs[i].numel());
    cuda::dispatch_float(xs[start].dtype, "l2Norms", [&](auto t) {
      using T = typename decltype(t)::type;
      cuda::for_each_batch<1>(
          static_cast<int>(end - start), sizes,
          [&](cuda::TensorBatch<1>& b, int slot, int i) { b.ptr[0][slot] = xs[start + i].raw(); },
          [&](cuda::TensorBatch<1>& b, int blocks) {
            for (int k = 0; k < b.count; k++) b.index[k] += static_cast<int>(start);
            cuda::Scratch partial(*ctx_, static_cast<size_t>(blocks) * sizeof(double), "l2Norms");
            cuda::sumsq_multi<T><<<blocks, 256, 0, ctx_->stream>>>(b, partial.as<double>());
            cuda::norms_finish<<<b.count, 256, 0, ctx_->stream>>>(b, partial.as<double>(), out.data<float>());
            CR_LAUNCH_CHECK("l2Norms", std::to_string(xs.size()) + " tensors");
          });
    });
    start = end;
  }
  if (count == 0) fill_constant_(out, 0.0);
  return out;
}

}  // namespace cr
