// sum, L2 norms and per-channel sums. Deterministic by construction: fixed partition of the
// input into blocks, fixed-order tree inside a block, fixed-order final pass, doubles
// throughout; the grid never depends on the GPU model.
// Then the reductions over axes (sum/mean, max, topk, and the scatter-add behind the
// backward of max and topk), in logical order; each output element is reduced in a fixed
// order, and max/topk pick exactly what the CPU backend picks.
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

namespace cuda {
namespace {

// Row-major coordinates of an index over up to kMaxRank sizes, dotted with strides.
struct Walk {
  int rank;
  int64_t size[kMaxRank], stride[kMaxRank];
  __device__ int64_t offset(int64_t i) const {
    int64_t off = 0;
    for (int k = rank - 1; k >= 0; k--) {
      off += (i % size[k]) * stride[k];
      i /= size[k];
    }
    return off;
  }
};

// One block per output element: the block sums its reduced elements in a fixed order.
template <typename T>
__global__ void reduce_axes_kernel(const T* x, T* y, Walk kept, Walk red, int64_t n_red, bool mean) {
  const int64_t base = kept.offset(blockIdx.x);
  double acc = 0;
  for (int64_t q = threadIdx.x; q < n_red; q += blockDim.x) acc += to_f(x[base + red.offset(q)]);
  acc = block_sum(acc);
  if (threadIdx.x == 0) y[blockIdx.x] = from_f<T>(static_cast<float>(mean ? acc / static_cast<double>(n_red) : acc));
}

// The CPU backend's order: NaN above every number, then value, then lower index first.
__device__ __forceinline__ bool before(bool largest, float a, int64_t ia, float b, int64_t ib) {
  bool na = isnan(a), nb = isnan(b);
  if (na != nb) return largest ? na : nb;
  if (!na && a != b) return largest ? a > b : a < b;
  return ia < ib;
}

// One thread per line along the axis: k selection passes, each taking the first element
// (in the order above) after the one the previous pass took. max is k = 1.
template <typename T>
__global__ void topk_kernel(const T* x, T* vals, int32_t* idx, AxisSplit sp, int64_t k, bool largest) {
  CR_GRID_STRIDE(t, sp.outer * sp.inner) {
    const int64_t o = t / sp.inner, i = t % sp.inner;
    const T* row = x + o * sp.n * sp.inner + i;
    float prev_v = 0.f;
    int64_t prev_i = -1;
    for (int64_t j = 0; j < k; j++) {
      int64_t best = -1;
      float best_v = 0.f;
      for (int64_t q = 0; q < sp.n; q++) {
        float v = to_f(row[q * sp.inner]);
        if (prev_i >= 0 && !before(largest, prev_v, prev_i, v, q)) continue;
        if (best < 0 || before(largest, v, q, best_v, best)) {
          best = q;
          best_v = v;
        }
      }
      const int64_t out = (o * k + j) * sp.inner + i;
      vals[out] = row[best * sp.inner];
      idx[out] = static_cast<int32_t>(best);
      prev_v = best_v;
      prev_i = best;
    }
  }
}

// One thread per output element (o, p, i): the sum of src[o, j, i] over j with
// indices[o, j, i] == p, in j order (the CPU backend's order; no atomics).
template <typename T>
__global__ void scatter_add_axis_kernel(const T* src, const int32_t* ind, T* y, AxisSplit from, int64_t n_to) {
  CR_GRID_STRIDE(t, from.outer * n_to * from.inner) {
    const int64_t i = t % from.inner, p = (t / from.inner) % n_to, o = t / (from.inner * n_to);
    float acc = 0.f;
    for (int64_t j = 0; j < from.n; j++) {
      const int64_t s = (o * from.n + j) * from.inner + i;
      if (ind[s] == p) acc += to_f(src[s]);
    }
    y[t] = from_f<T>(acc);
  }
}

Shape with_axis(const Shape& shape, int axis, int64_t size) {
  Shape s = shape;
  if (size > 0)
    s[axis] = size;
  else
    s.erase(s.begin() + axis);
  if (s.empty()) s.push_back(1);
  return s;
}

}  // namespace
}  // namespace cuda

Tensor CudaBackend::reduce_axes(const Tensor& x, const std::vector<int>& axes, bool keepdim, ReduceMode mode) {
  cuda::DeviceGuard g(ctx_->index);
  const char* name = "reduceAxes";
  const int r = x.rank();
  cuda::Walk kept{}, red{};
  Shape out_shape;
  int64_t stride = 1;
  std::vector<bool> reduced(r, false);
  for (int a : axes) reduced[a] = true;
  // Filled back to front, then shifted to the front.
  for (int k = r - 1; k >= 0; k--) {
    cuda::Walk& w = reduced[k] ? red : kept;
    w.size[w.rank] = x.shape[k];
    w.stride[w.rank] = stride;
    w.rank++;
    stride *= x.shape[k];
  }
  for (cuda::Walk* w : {&kept, &red})
    for (int a = 0, b = w->rank - 1; a < b; a++, b--) {
      std::swap(w->size[a], w->size[b]);
      std::swap(w->stride[a], w->stride[b]);
    }
  for (int k = 0; k < r; k++)
    if (!reduced[k] || keepdim) out_shape.push_back(reduced[k] ? 1 : x.shape[k]);
  if (out_shape.empty()) out_shape.push_back(1);
  Tensor xx = cuda::to_format(*ctx_, x, x.dtype, Layout::NCHW, name);
  Tensor y = cuda::new_tensor(*ctx_, out_shape, x.dtype, Layout::NCHW, name);
  const int64_t n_out = y.numel(), n_red = x.numel() / n_out;
  if (n_out > INT32_MAX) throw_range(name, "x", "has more than 2^31 output elements");
  cuda::dispatch_float(x.dtype, name, [&](auto t) {
    using T = typename decltype(t)::type;
    cuda::reduce_axes_kernel<T><<<static_cast<unsigned>(n_out), 256, 0, ctx_->stream>>>(
        xx.data<T>(), y.data<T>(), kept, red, n_red, mode == ReduceMode::Mean);
  });
  CR_LAUNCH_CHECK(name, cuda::describe_args({{"x", &x}}));
  return y;
}

static TensorPair topk_launch(DeviceContext& ctx, const Tensor& x, int64_t k, int axis, bool largest,
                              const Shape& out_shape, const char* name) {
  const AxisSplit sp = split_at(x.shape, axis);
  Tensor xx = cuda::to_format(ctx, x, x.dtype, Layout::NCHW, name);
  TensorPair r{cuda::new_tensor(ctx, out_shape, x.dtype, Layout::NCHW, name),
               cuda::new_tensor(ctx, out_shape, DType::I32, Layout::NCHW, name)};
  const int64_t lines = sp.outer * sp.inner;
  cuda::dispatch_float(x.dtype, name, [&](auto t) {
    using T = typename decltype(t)::type;
    cuda::topk_kernel<T><<<cuda::grid_for(ctx, lines), 256, 0, ctx.stream>>>(xx.data<T>(), r.values.data<T>(),
                                                                             r.indices.data<int32_t>(), sp, k, largest);
  });
  CR_LAUNCH_CHECK(name, cuda::describe_args({{"x", &x}}));
  return r;
}

TensorPair CudaBackend::max_axis(const Tensor& x, int axis, bool keepdim) {
  cuda::DeviceGuard g(ctx_->index);
  return topk_launch(*ctx_, x, 1, axis, true, cuda::with_axis(x.shape, axis, keepdim ? 1 : 0), "maxAxis");
}

TensorPair CudaBackend::topk(const Tensor& x, int64_t k, int axis, bool largest) {
  cuda::DeviceGuard g(ctx_->index);
  return topk_launch(*ctx_, x, k, axis, largest, cuda::with_axis(x.shape, axis, k), "topk");
}

Tensor CudaBackend::scatter_add_axis(const Tensor& src, const Tensor& indices, int axis, const Shape& shape) {
  cuda::DeviceGuard g(ctx_->index);
  const char* name = "scatterAddAxis";
  const AxisSplit from = split_at(src.shape, axis);
  Tensor ss = cuda::to_format(*ctx_, src, src.dtype, Layout::NCHW, name);
  Tensor y = cuda::new_tensor(*ctx_, shape, src.dtype, Layout::NCHW, name);
  const int64_t n = y.numel();
  cuda::dispatch_float(src.dtype, name, [&](auto t) {
    using T = typename decltype(t)::type;
    cuda::scatter_add_axis_kernel<T><<<cuda::grid_for(*ctx_, n), 256, 0, ctx_->stream>>>(
        ss.data<T>(), indices.data<int32_t>(), y.data<T>(), from, shape[axis]);
  });
  CR_LAUNCH_CHECK(name, cuda::describe_args({{"src", &src}, {"indices", &indices}}));
  return y;
}

}  // namespace cr
