// Softmax cross-entropy over logits [N, C] with int32 labels: the mean loss, the number of
// rows whose argmax (first maximum wins) equals the label, and the gradient. One block per
// row; the batch mean is a fixed-order pass so the loss is bit-reproducible.
// Label smoothing eps mixes the mean of the row into the loss and eps / C into the target,
// as on the CPU (native/cpu/loss.cpp); eps = 0 takes the unsmoothed expressions unchanged.
// A label outside [0, C) cannot raise an exception from the GPU: its row's loss is NaN (so
// the mean is NaN) and its gradient row is NaN, which a training loop notices at once.
#include <cmath>

#include "../context.h"
#include "common.cuh"

namespace cr {
namespace cuda {
namespace {

constexpr int kThreads = 128;

// Block-wide max with the lowest index among equal maxima.
__device__ void block_argmax(float& v, int& idx) {
  __shared__ float sv[32];
  __shared__ int si[32];
  for (int o = 16; o > 0; o >>= 1) {
    float ov = __shfl_down_sync(0xffffffffu, v, o);
    int oi = __shfl_down_sync(0xffffffffu, idx, o);
    if (ov > v || (ov == v && oi < idx)) {
      v = ov;
      idx = oi;
    }
  }
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();
  if (lane == 0) {
    sv[warp] = v;
    si[warp] = idx;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < (blockDim.x + 31) / 32; w++)
      if (sv[w] > v || (sv[w] == v && si[w] < idx)) {
        v = sv[w];
        idx = si[w];
      }
    sv[0] = v;
    si[0] = idx;
  }
  __syncthreads();
  v = sv[0];
  idx = si[0];
}

// Row statistics: max, argmax and lse = max + log(sum(exp(x - max))), in double as on the
// CPU: a float lse loses the small differences lse - x[label] (a confident row's loss) and
// p - 1 (its gradient) to cancellation.
template <typename T>
__device__ void row_stats(const T* row, int64_t C, float& mx, int& arg, double& lse) {
  mx = -INFINITY;
  arg = 0x7fffffff;
  for (int64_t j = threadIdx.x; j < C; j += blockDim.x) {
    float v = to_f(row[j]);
    if (v > mx || (v == mx && j < arg)) {
      mx = v;
      arg = static_cast<int>(j);
    }
  }
  block_argmax(mx, arg);
  double s = 0;
  for (int64_t j = threadIdx.x; j < C; j += blockDim.x) s += exp(static_cast<double>(to_f(row[j])) - mx);
  s = block_sum(s);
  __shared__ double total;
  if (threadIdx.x == 0) total = s;
  __syncthreads();
  lse = static_cast<double>(mx) + log(total);
}

template <typename T>
__global__ void ce_rows(const T* logits, const int32_t* labels, int64_t C, float eps, double* row_loss,
                        int* row_correct) {
  int64_t r = blockIdx.x;
  const T* row = logits + r * C;
  float mx;
  double lse;
  int arg;
  row_stats(row, C, mx, arg, lse);
  double sum = 0;
  if (eps != 0.f) {
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x) sum += static_cast<double>(to_f(row[j]));
    sum = block_sum(sum);
  }
  if (threadIdx.x == 0) {
    int32_t y = labels[r];
    bool ok = y >= 0 && y < C;
    double loss = lse - to_f(row[y]);
    if (eps != 0.f) loss = (1.0 - eps) * loss + eps * (lse - sum / static_cast<double>(C));
    row_loss[r] = ok ? loss : NAN;
    row_correct[r] = ok && arg == y ? 1 : 0;
  }
}

__global__ void ce_finish(const double* row_loss, const int* row_correct, int64_t N, float* loss, int32_t* correct) {
  double acc = 0, cnt = 0;
  for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
    acc += row_loss[i];
    cnt += row_correct[i];
  }
  acc = block_sum(acc);
  cnt = block_sum(cnt);
  if (threadIdx.x == 0) {
    loss[0] = static_cast<float>(acc / static_cast<double>(N));
    correct[0] = static_cast<int32_t>(cnt);
  }
}

template <typename T>
__global__ void ce_backward(const T* logits, const int32_t* labels, const float* grad_loss, int64_t N, int64_t C,
                            float eps, T* dlogits) {
  int64_t r = blockIdx.x;
  const T* row = logits + r * C;
  float mx;
  double lse;
  int arg;
  row_stats(row, C, mx, arg, lse);
  int32_t y = labels[r];
  bool ok = y >= 0 && y < C;
  double scale = static_cast<double>(grad_loss[0]) / static_cast<double>(N);
  const double on = 1.0 - static_cast<double>(eps), off = static_cast<double>(eps) / static_cast<double>(C);
  for (int64_t j = threadIdx.x; j < C; j += blockDim.x) {
    double p = exp(static_cast<double>(to_f(row[j])) - lse);
    float g = ok ? static_cast<float>(scale * (p - ((j == y ? on : 0.0) + off))) : NAN;
    dlogits[r * C + j] = from_f<T>(g);
  }
}

}  // namespace
}  // namespace cuda

CrossEntropyForward CudaBackend::softmax_cross_entropy_forward(const Tensor& logits, const Tensor& labels,
                                                               float label_smoothing) {
  cuda::DeviceGuard g(ctx_->index);
  const char* op = "softmaxCrossEntropyForward";
  int64_t N = logits.dim(0), C = logits.dim(1);
  CrossEntropyForward out;
  out.loss = cuda::new_tensor(*ctx_, {1}, DType::F32, Layout::NCHW, op);
  out.correct = cuda::new_tensor(*ctx_, {1}, DType::I32, Layout::NCHW, op);
  cuda::Scratch rows(*ctx_, static_cast<size_t>(N) * (sizeof(double) + sizeof(int)), op);
  double* row_loss = rows.as<double>();
  int* row_correct = reinterpret_cast<int*>(row_loss + N);
  cuda::dispatch_float(logits.dtype, op, [&](auto t) {
    using T = typename decltype(t)::type;
    cuda::ce_rows<T><<<static_cast<unsigned>(N), cuda::kThreads, 0, ctx_->stream>>>(
        logits.data<T>(), labels.data<int32_t>(), C, label_smoothing, row_loss, row_correct);
  });
  cuda::ce_finish<<<1, 256, 0, ctx_->stream>>>(row_loss, row_correct, N, out.loss.data<float>(),
                                               out.correct.data<int32_t>());
  CR_LAUNCH_CHECK(op, cuda::describe_args({{"logits", &logits}, {"labels", &labels}}));
  return out;
}

Tensor CudaBackend::softmax_cross_entropy_backward(const Tensor& logits, const Tensor& labels, const Tensor& grad_loss,
                                                   float label_smoothing) {
  cuda::DeviceGuard g(ctx_->index);
  const char* op = "softmaxCrossEntropyBackward";
  int64_t N = logits.dim(0), C = logits.dim(1);
  Tensor d = cuda::new_tensor(*ctx_, logits.shape, logits.dtype, Layout::NCHW, op);
  cuda::dispatch_float(logits.dtype, op, [&](auto t) {
    using T = typename decltype(t)::type;
    cuda::ce_backward<T><<<static_cast<unsigned>(N), cuda::kThreads, 0, ctx_->stream>>>(
        logits.data<T>(), labels.data<int32_t>(), grad_loss.data<float>(), N, C, label_smoothing, d.data<T>());
  });
  CR_LAUNCH_CHECK(op, cuda::describe_args({{"logits", &logits}, {"labels", &labels}}));
  return d;
}

}  // namespace cr
