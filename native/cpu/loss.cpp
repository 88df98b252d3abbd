// Softmax cross-entropy over logits [N, C] (any float dtype) and int32 labels [N]. Each row
// subtracts its maximum before exponentiating (log-sum-exp), so large logits cannot
// overflow; sums are in double. The binding has checked that labels lie in [0, C).
// Label smoothing eps (PyTorch's label_smoothing): the target is (1 - eps) * onehot + eps / C,
// so a row's loss is (1 - eps) * (lse - x[y]) + eps * (lse - mean(x)) and its gradient
// softmax(x) - target. With eps = 0 both reduce to the unsmoothed expressions exactly.
#include <cmath>
#include <vector>

#include "cpu_backend.h"
#include "parallel.h"

namespace cr {

namespace {

struct RowStats {
  double max, lse;  // row maximum and log(sum exp(x - max)) + max
  int64_t argmax;   // first maximum
};

RowStats row_stats(const float* row, int64_t C) {
  RowStats r{row[0], 0, 0};
  for (int64_t j = 1; j < C; j++)
    if (row[j] > r.max) {
      r.max = row[j];
      r.argmax = j;
    }
  double s = 0;
  for (int64_t j = 0; j < C; j++) s += std::exp(row[j] - r.max);
  r.lse = r.max + std::log(s);
  return r;
}

}  // namespace

CrossEntropyForward CpuBackend::softmax_cross_entropy_forward(const Tensor& logits, const Tensor& labels,
                                                              float label_smoothing) {
  const int64_t N = logits.shape[0], C = logits.shape[1];
  std::vector<float> xs = to_f32_nchw(logits);
  const int32_t* lab = labels.data<int32_t>();
  std::vector<double> loss(N);
  std::vector<int32_t> hit(N);
  parallel_for(N, 64, [&](int64_t b, int64_t e) {
    for (int64_t n = b; n < e; n++) {
      const float* row = xs.data() + n * C;
      RowStats r = row_stats(row, C);
      loss[n] = r.lse - row[lab[n]];
      if (label_smoothing != 0.f) {
        double sum = 0;
        for (int64_t j = 0; j < C; j++) sum += row[j];
        const double eps = label_smoothing;
        loss[n] = (1.0 - eps) * loss[n] + eps * (r.lse - sum / static_cast<double>(C));
      }
      hit[n] = r.argmax == lab[n] ? 1 : 0;
    }
  });
  double total = 0;
  int32_t correct = 0;
  for (int64_t n = 0; n < N; n++) {  // in row order, so the result does not depend on threads
    total += loss[n];
    correct += hit[n];
  }
  CrossEntropyForward out;
  out.loss = empty({1}, DType::F32, Layout::NCHW);
  out.correct = empty({1}, DType::I32, Layout::NCHW);
  out.loss.data<float>()[0] = static_cast<float>(total / static_cast<double>(N));
  out.correct.data<int32_t>()[0] = correct;
  return out;
}

Tensor CpuBackend::softmax_cross_entropy_backward(const Tensor& logits, const Tensor& labels, const Tensor& grad_loss,
                                                  float label_smoothing) {
  const int64_t N = logits.shape[0], C = logits.shape[1];
  std::vector<float> xs = to_f32_nchw(logits);
  const int32_t* lab = labels.data<int32_t>();
  const double k = static_cast<double>(grad_loss.data<float>()[0]) / static_cast<double>(N);
  const double eps = label_smoothing, on = 1.0 - eps, off = eps / static_cast<double>(C);
  std::vector<float> dx(xs.size());
  parallel_for(N, 64, [&](int64_t b, int64_t e) {
    for (int64_t n = b; n < e; n++) {
      const float* row = xs.data() + n * C;
      RowStats r = row_stats(row, C);
      for (int64_t j = 0; j < C; j++) {
        double p = std::exp(row[j] - r.lse);
        dx[n * C + j] = static_cast<float>(k * (p - ((j == lab[n] ? on : 0.0) + off)));
      }
    }
  });
  return from_f32_nchw(dx, logits.shape, logits.dtype, logits.layout);
}

}  // namespace cr
