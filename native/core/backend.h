// The narrow interface every backend implements: allocation, copies, and the op table.
// Bindings validate arguments (see core/checks.h) before they call in, so a backend may
// assume shapes, dtypes, layouts and devices are consistent; it still throws OpError on
// its own failures (out of memory, a cuDNN status) with the op name and shapes.
//
// Conventions shared by every op:
// - 4-D activations are logical [N, C, H, W]; `layout` says the memory order.
// - Ops return new tensors on the device of their inputs; methods ending in `_` write into
//   an argument in place (optimizer updates, running statistics, fills).
// - Accumulation is fp32 whatever the storage dtype; BN statistics/parameters are fp32.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "tensor.h"

namespace cr {

struct Conv2dParams {
  int stride_h = 1, stride_w = 1;
  int pad_h = 0, pad_w = 0;
  int dilation_h = 1, dilation_w = 1;
  bool allow_tf32 = false;  // CUDA only: TF32 tensor-core math for fp32 inputs
};

// Output size of a convolution or pooling window along one axis.
inline int64_t conv_out_size(int64_t in, int64_t k, int stride, int pad, int dilation) {
  return (in + 2 * pad - dilation * (k - 1) - 1) / stride + 1;
}

enum class PoolMode : int { Max = 0, Average = 1 };

struct Pool2dParams {
  PoolMode mode = PoolMode::Max;
  int kernel_h = 2, kernel_w = 2;
  int stride_h = 2, stride_w = 2;
  int pad_h = 0, pad_w = 0;
  bool count_include_pad = true;  // average only; PyTorch's AvgPool2d default
};

struct BatchNormForward {
  Tensor y;
  Tensor save_mean;    // [C] fp32, batch mean
  Tensor save_invstd;  // [C] fp32, 1 / sqrt(batch biased var + eps)
  // What the backward may reuse, or undefined: on CUDA the reserve space of cuDNN's fused
  // NHWC kernel (its activation mask), [bytes] uint8. Opaque: hand it back unchanged.
  Tensor reserve;
};

struct BatchNormBackward {
  Tensor dx, dgamma, dbeta;
  Tensor dresidual;  // only when the forward added a residual: the gradient reaching it
};

struct CrossEntropyForward {
  Tensor loss;     // [1] fp32: mean over the batch of -log softmax(logits)[label]
  Tensor correct;  // [1] int32: rows whose argmax equals the label (first max wins)
};

struct SgdParams {
  float lr = 0.1f, momentum = 0.f, dampening = 0.f, weight_decay = 0.f;
  bool nesterov = false;
  // PyTorch semantics: the first step sets buf = grad (no dampening), later ones
  // buf = momentum * buf + (1 - dampening) * grad.
  bool first_step = false;
  // Device scalars, so that a captured step follows an lr schedule and skips overflowed
  // fp16 steps without re-capture or a host round trip. lr_device: [1] fp32 on the params'
  // device, read in place of `lr`. skip_flag: [>= 1] fp32 there; when element 0 is non-zero
  // the update leaves every parameter and buffer untouched (amp_unscale_'s found-inf flag).
  const Tensor* lr_device = nullptr;
  const Tensor* skip_flag = nullptr;
};

// Dynamic loss scaling, torch.cuda.amp.GradScaler's policy.
struct LossScaleParams {
  float growth_factor = 2.f, backoff_factor = 0.5f;
  int growth_interval = 2000;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;

  // ---- memory and copies ----
  virtual Tensor empty(const Shape& shape, DType dtype, Layout layout) = 0;
  virtual void copy_from_host_(const Tensor& dst, const void* src) = 0;  // dst.nbytes() bytes
  virtual void copy_to_host(const Tensor& src, void* dst) = 0;           // src.nbytes() bytes
  // Starts copying src into dst (src.nbytes() bytes) in stream order, after the work queued
  // so far, and returns a function that waits for that copy. The function enqueues nothing,
  // so it may run on another thread while later work (a graph capture included) is queued.
  // The CPU copies at once and returns a no-op.
  virtual std::function<void()> copy_to_host_async(const Tensor& src, void* dst) = 0;
  // Copy between two tensors of equal shape, dtype and layout on this backend.
  virtual void copy_(const Tensor& dst, const Tensor& src) = 0;
  virtual void synchronize() = 0;
  virtual Tensor cast(const Tensor& x, DType dtype) = 0;
  virtual Tensor to_layout(const Tensor& x, Layout layout) = 0;  // 4-D only
  // cast + to_layout in one pass (one kernel on CUDA): the mixed-precision weight path.
  // Always a new tensor; `layout` must be NCHW unless x is 4-D.
  virtual Tensor convert(const Tensor& x, DType dtype, Layout layout) = 0;

  // ---- convolution (conv.cpp) ----
  virtual Tensor conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, const Conv2dParams& p) = 0;
  virtual Tensor conv2d_backward_data(const Tensor& dy, const Tensor& w, const Shape& x_shape, const Conv2dParams& p) = 0;
  virtual Tensor conv2d_backward_filter(const Tensor& dy, const Tensor& x, const Shape& w_shape, const Conv2dParams& p) = 0;
  virtual Tensor conv2d_backward_bias(const Tensor& dy) = 0;  // [C] fp32

  // ---- batch norm, spatial (batchnorm.cpp) ----
  // Training: y = act(gamma * (x - mean) * invstd + beta + residual), act = ReLU when
  // `relu`, identity otherwise; residual may be null. Updates running_mean/var in place
  // with PyTorch's momentum convention (running = (1 - m) * running + m * batch, unbiased
  // variance for the running estimate).
  virtual BatchNormForward batchnorm_forward_training(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                                      const Tensor& running_mean, const Tensor& running_var,
                                                      double momentum, double eps, const Tensor* residual,
                                                      bool relu) = 0;
  virtual Tensor batchnorm_forward_inference(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                             const Tensor& running_mean, const Tensor& running_var, double eps,
                                             const Tensor* residual, bool relu) = 0;
  // `y` is the forward output; it is read only when `relu` (for the activation's mask).
  // `beta` and `reserve` (the forward's, may be null) let a backend run the backward of the
  // fused kernel its forward ran; the result agrees with the plain path within rounding
  // (cuDNN's mask comes from the pre-activation value, the plain path's from y > 0).
  virtual BatchNormBackward batchnorm_backward(const Tensor& dy, const Tensor& x, const Tensor& gamma,
                                               const Tensor& save_mean, const Tensor& save_invstd, double eps,
                                               const Tensor* y, bool relu, bool has_residual, const Tensor* beta,
                                               const Tensor* reserve) = 0;

  // ---- activation and elementwise (elementwise.cpp) ----
  virtual Tensor relu_forward(const Tensor& x) = 0;
  virtual Tensor relu_backward(const Tensor& dy, const Tensor& y) = 0;
  virtual Tensor add(const Tensor& a, const Tensor& b) = 0;
  virtual Tensor scale(const Tensor& x, float alpha) = 0;
  virtual void axpy_(float alpha, const Tensor& x, const Tensor& y) = 0;  // y += alpha * x

  // ---- pooling (pooling.cpp) ----
  virtual Tensor pool2d_forward(const Tensor& x, const Pool2dParams& p) = 0;
  virtual Tensor pool2d_backward(const Tensor& dy, const Tensor& x, const Tensor& y, const Pool2dParams& p) = 0;

  // ---- linear: y[N, M] = x[N, K] * w[M, K]^T + b[M] (linear.cpp) ----
  virtual Tensor linear_forward(const Tensor& x, const Tensor& w, const Tensor* bias) = 0;
  virtual Tensor linear_backward_data(const Tensor& dy, const Tensor& w) = 0;    // [N, K]
  virtual Tensor linear_backward_weight(const Tensor& dy, const Tensor& x) = 0;  // [M, K]
  virtual Tensor linear_backward_bias(const Tensor& dy) = 0;                     // [M]

  // ---- loss (loss.cpp): logits [N, C] float, labels [N] int32 ----
  virtual CrossEntropyForward softmax_cross_entropy_forward(const Tensor& logits, const Tensor& labels) = 0;
  // dlogits = (softmax(logits) - onehot(labels)) * grad_loss[0] / N; grad_loss is [1] fp32.
  virtual Tensor softmax_cross_entropy_backward(const Tensor& logits, const Tensor& labels,
                                                const Tensor& grad_loss) = 0;

  // ---- optimizer (sgd.cpp): one call updates many tensors; bufs may be empty when
  // momentum == 0. Params and bufs are fp32; grads fp32. ----
  virtual void sgd_update_(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                           const std::vector<Tensor>& bufs, const SgdParams& p) = 0;

  // ---- dynamic loss scaling (amp.cpp), all on the device: scale is [1] fp32, the
  // current loss scale; state is [3] fp32 {found_inf, good_steps, skipped_steps}. ----
  // state[0] = 1 if any element of grads (fp32) is inf or NaN, else 0; then every grad is
  // multiplied by 1 / scale (rounded once, as the reciprocal).
  virtual void amp_unscale_(const std::vector<Tensor>& grads, const Tensor& scale, const Tensor& state) = 0;
  // After the (possibly skipped) update: on found_inf, scale *= backoff, good_steps = 0 and
  // skipped_steps += 1; otherwise good_steps += 1, and when it reaches growth_interval the
  // scale grows by growth_factor (kept if finite) and good_steps restarts at 0.
  virtual void amp_update_scale_(const Tensor& scale, const Tensor& state, const LossScaleParams& p) = 0;

  // ---- fills (fill.cpp): counter-based Philox4x32-10, so a (seed, element index) pair
  // gives the same value on every backend. ----
  virtual void fill_constant_(const Tensor& t, double value) = 0;
  virtual void fill_uniform_(const Tensor& t, double low, double high, uint64_t seed) = 0;
  virtual void fill_normal_(const Tensor& t, double mean, double std, uint64_t seed) = 0;

  // ---- reductions (reduce.cpp): results are [1] / [n] fp32 tensors on this device ----
  virtual Tensor sum(const Tensor& x) = 0;
  virtual Tensor l2_norms(const std::vector<Tensor>& xs) = 0;  // [n]: ||x_i||_2

  // ---- CIFAR option-A shortcut (shortcut.cpp): y = zero-pad channels of x[:, :, ::s, ::s]
  // with (out_channels - C) / 2 zero channels in front and the rest behind. ----
  virtual Tensor shortcut_a_forward(const Tensor& x, int64_t out_channels, int stride) = 0;
  virtual Tensor shortcut_a_backward(const Tensor& dy, int64_t in_channels, int stride, const Shape& x_shape) = 0;

  // ---- data (augment.cpp): builds a training batch from the resident uint8 dataset in one
  // pass. images [M, C, H, W] uint8 NCHW; indices [B] int32 rows of images; params [B, 3]
  // int32 (dy, dx, flip): the crop's top-left corner in the image padded by `pad` zeros on
  // each side (0 <= dy, dx <= 2 * pad) and 1 to mirror horizontally. Output [B, C, H, W]
  // in dtype/layout, each value (v / 255 - mean[c]) / std[c]; padded pixels are v = 0. ----
  virtual Tensor augment_batch(const Tensor& images, const Tensor& indices, const Tensor& params,
                               const std::vector<float>& mean, const std::vector<float>& stdev, int pad,
                               DType dtype, Layout layout) = 0;
  // labels [M] uint8, indices [B] int32 -> [B] int32
  virtual Tensor gather_labels(const Tensor& labels, const Tensor& indices) = 0;
};

// The declarations of every Backend op with `override`, for the concrete backends' class
// bodies (cpu/cpu_backend.h, cuda/cuda_backend.h): one list, so a new op in the interface
// cannot be left out of a backend's declaration.
#define CR_BACKEND_OVERRIDES \
  Tensor empty(const Shape& shape, DType dtype, Layout layout) override; \
  void copy_from_host_(const Tensor& dst, const void* src) override; \
  void copy_to_host(const Tensor& src, void* dst) override; \
  std::function<void()> copy_to_host_async(const Tensor& src, void* dst) override; \
  void copy_(const Tensor& dst, const Tensor& src) override; \
  void synchronize() override; \
  Tensor cast(const Tensor& x, DType dtype) override; \
  Tensor to_layout(const Tensor& x, Layout layout) override; \
  Tensor convert(const Tensor& x, DType dtype, Layout layout) override; \
 \
  Tensor conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, const Conv2dParams& p) override; \
  Tensor conv2d_backward_data(const Tensor& dy, const Tensor& w, const Shape& x_shape, const Conv2dParams& p) override; \
  Tensor conv2d_backward_filter(const Tensor& dy, const Tensor& x, const Shape& w_shape, const Conv2dParams& p) override; \
  Tensor conv2d_backward_bias(const Tensor& dy) override; \
 \
  BatchNormForward batchnorm_forward_training(const Tensor& x, const Tensor& gamma, const Tensor& beta, \
                                              const Tensor& running_mean, const Tensor& running_var, double momentum, \
                                              double eps, const Tensor* residual, bool relu) override; \
  Tensor batchnorm_forward_inference(const Tensor& x, const Tensor& gamma, const Tensor& beta, \
                                     const Tensor& running_mean, const Tensor& running_var, double eps, \
                                     const Tensor* residual, bool relu) override; \
  BatchNormBackward batchnorm_backward(const Tensor& dy, const Tensor& x, const Tensor& gamma, \
                                       const Tensor& save_mean, const Tensor& save_invstd, double eps, \
                                       const Tensor* y, bool relu, bool has_residual, const Tensor* beta, \
                                       const Tensor* reserve) override; \
 \
  Tensor relu_forward(const Tensor& x) override; \
  Tensor relu_backward(const Tensor& dy, const Tensor& y) override; \
  Tensor add(const Tensor& a, const Tensor& b) override; \
  Tensor scale(const Tensor& x, float alpha) override; \
  void axpy_(float alpha, const Tensor& x, const Tensor& y) override; \
 \
  Tensor pool2d_forward(const Tensor& x, const Pool2dParams& p) override; \
  Tensor pool2d_backward(const Tensor& dy, const Tensor& x, const Tensor& y, const Pool2dParams& p) override; \
 \
  Tensor linear_forward(const Tensor& x, const Tensor& w, const Tensor* bias) override; \
  Tensor linear_backward_data(const Tensor& dy, const Tensor& w) override; \
  Tensor linear_backward_weight(const Tensor& dy, const Tensor& x) override; \
  Tensor linear_backward_bias(const Tensor& dy) override; \
 \
  CrossEntropyForward softmax_cross_entropy_forward(const Tensor& logits, const Tensor& labels) override; \
  Tensor softmax_cross_entropy_backward(const Tensor& logits, const Tensor& labels, const Tensor& grad_loss) override; \
 \
  void sgd_update_(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, \
                   const std::vector<Tensor>& bufs, const SgdParams& p) override; \
  void amp_unscale_(const std::vector<Tensor>& grads, const Tensor& scale, const Tensor& state) override; \
  void amp_update_scale_(const Tensor& scale, const Tensor& state, const LossScaleParams& p) override; \
 \
  void fill_constant_(const Tensor& t, double value) override; \
  void fill_uniform_(const Tensor& t, double low, double high, uint64_t seed) override; \
  void fill_normal_(const Tensor& t, double mean, double std, uint64_t seed) override; \
 \
  Tensor sum(const Tensor& x) override; \
  Tensor l2_norms(const std::vector<Tensor>& xs) override; \
 \
  Tensor shortcut_a_forward(const Tensor& x, int64_t out_channels, int stride) override; \
  Tensor shortcut_a_backward(const Tensor& dy, int64_t in_channels, int stride, const Shape& x_shape) override; \
 \
  Tensor augment_batch(const Tensor& images, const Tensor& indices, const Tensor& params, \
                       const std::vector<float>& mean, const std::vector<float>& stdev, int pad, DType dtype, \
                       Layout layout) override; \
  Tensor gather_labels(const Tensor& labels, const Tensor& indices) override;

// The backend serving a device. Throws OpError (Runtime) when that device is unavailable.
Backend& backend_for(const Device& device);
Backend& cpu_backend();

}  // namespace cr
