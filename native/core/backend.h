// The narrow interface every backend implements: allocation, copies, and the op table.
// Bindings validate arguments (bindings/args.h) before they call in, so a backend may
// assume shapes, dtypes, layouts and devices are consistent; it still throws OpError on
// its own failures (out of memory, a cuDNN status) with the op name and shapes.
//
// Conventions shared by every op:
// - 4-D activations are logical [N, C, H, W]; `layout` says the memory order.
// - Ops return new tensors on the device of their inputs; methods ending in `_` write into
//   an argument in place (optimizer updates, running statistics, fills).
// - Accumulation is fp32 whatever the storage dtype; BN statistics/parameters are fp32.
// docs/architecture.md places this interface among the layers and says why each backend
// has every op.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "axes.h"
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
  Tensor loss;     // [1] fp32: mean over the batch of -sum(target * log softmax(logits))
  Tensor correct;  // [1] int32: rows whose argmax equals the label (first max wins)
};

// Two results of one op: values and their int32 indices (max_axis, topk).
struct TensorPair {
  Tensor values, indices;
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

// AdamW (torch.optim.AdamW). The betas and eps stay double: the bias corrections are
// computed in double, as PyTorch computes them in Python; element-wise math is fp32.
struct AdamwParams {
  float lr = 1e-3f;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 1e-2;
  bool amsgrad = false;
  // As in SgdParams: lr_device ([1] fp32) replaces lr, skip_flag (element 0 non-zero) skips
  // the whole update, step counts included; both are read on the device when it runs.
  const Tensor* lr_device = nullptr;
  const Tensor* skip_flag = nullptr;
};

// Dynamic loss scaling, torch.cuda.amp.GradScaler's policy.
struct LossScaleParams {
  float growth_factor = 2.f, backoff_factor = 0.5f;
  int growth_interval = 2000;
};

// The op table, one entry per op: X(return type, name, (parameters)). Backend declares each
// as a pure virtual and CR_BACKEND_OVERRIDES with `override` for the concrete backends'
// class bodies (cpu/cpu_backend.h, cuda/cuda_backend.h), so an op is declared in one place;
// a backend that lacks a definition fails to link.
#define CR_BACKEND_OPS(X) \
  /* ---- memory and copies ---- */ \
  X(Tensor, empty, (const Shape& shape, DType dtype, Layout layout)) \
  X(void, copy_from_host_, (const Tensor& dst, const void* src)) /* dst.nbytes() bytes */ \
  X(void, copy_to_host, (const Tensor& src, void* dst))          /* src.nbytes() bytes */ \
  /* Starts copying src into dst (src.nbytes() bytes) in stream order, after the work queued */ \
  /* so far, and returns a function that waits for that copy. The function enqueues nothing, */ \
  /* so it may run on another thread while later work (a graph capture included) is queued. */ \
  /* The CPU copies at once and returns a no-op. */ \
  X(std::function<void()>, copy_to_host_async, (const Tensor& src, void* dst)) \
  /* Copy between two tensors of equal shape, dtype and layout on this backend. */ \
  X(void, copy_, (const Tensor& dst, const Tensor& src)) \
  X(void, synchronize, ()) \
  X(Tensor, cast, (const Tensor& x, DType dtype)) \
  X(Tensor, to_layout, (const Tensor& x, Layout layout)) /* 4-D only */ \
  /* cast + to_layout in one pass (one kernel on CUDA): the mixed-precision weight path. */ \
  /* Always a new tensor; `layout` must be NCHW unless x is 4-D. */ \
  X(Tensor, convert, (const Tensor& x, DType dtype, Layout layout)) \
\
  /* ---- convolution (conv.cpp) ---- */ \
  X(Tensor, conv2d_forward, (const Tensor& x, const Tensor& w, const Tensor* bias, const Conv2dParams& p)) \
  X(Tensor, conv2d_backward_data, (const Tensor& dy, const Tensor& w, const Shape& x_shape, const Conv2dParams& p)) \
  X(Tensor, conv2d_backward_filter, (const Tensor& dy, const Tensor& x, const Shape& w_shape, const Conv2dParams& p)) \
  X(Tensor, conv2d_backward_bias, (const Tensor& dy)) /* [C] fp32 */ \
\
  /* ---- batch norm, spatial (batchnorm.cpp) ---- */ \
  /* Training: y = act(gamma * (x - mean) * invstd + beta + residual), act = ReLU when */ \
  /* `relu`, identity otherwise; residual may be null. Updates running_mean/var in place */ \
  /* with PyTorch's momentum convention (running = (1 - m) * running + m * batch, unbiased */ \
  /* variance for the running estimate). */ \
  X(BatchNormForward, batchnorm_forward_training, \
    (const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean, const Tensor& running_var, \
     double momentum, double eps, const Tensor* residual, bool relu)) \
  X(Tensor, batchnorm_forward_inference, \
    (const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean, const Tensor& running_var, \
     double eps, const Tensor* residual, bool relu)) \
  /* `y` is the forward output; it is read only when `relu` (for the activation's mask). */ \
  /* `beta` and `reserve` (the forward's, may be null) let a backend run the backward of the */ \
  /* fused kernel its forward ran; the result agrees with the plain path within rounding */ \
  /* (cuDNN's mask comes from the pre-activation value, the plain path's from y > 0). */ \
  X(BatchNormBackward, batchnorm_backward, \
    (const Tensor& dy, const Tensor& x, const Tensor& gamma, const Tensor& save_mean, const Tensor& save_invstd, \
     double eps, const Tensor* y, bool relu, bool has_residual, const Tensor* beta, const Tensor* reserve)) \
\
  /* ---- activation and elementwise (elementwise.cpp) ---- */ \
  X(Tensor, relu_forward, (const Tensor& x)) \
  X(Tensor, relu_backward, (const Tensor& dy, const Tensor& y)) \
  X(Tensor, add, (const Tensor& a, const Tensor& b)) \
  X(Tensor, scale, (const Tensor& x, float alpha)) \
  X(void, axpy_, (float alpha, const Tensor& x, const Tensor& y)) /* y += alpha * x */ \
\
  /* ---- pooling (pooling.cpp) ---- */ \
  X(Tensor, pool2d_forward, (const Tensor& x, const Pool2dParams& p)) \
  X(Tensor, pool2d_backward, (const Tensor& dy, const Tensor& x, const Tensor& y, const Pool2dParams& p)) \
\
  /* ---- linear: y[N, M] = x[N, K] * w[M, K]^T + b[M] (linear.cpp) ---- */ \
  X(Tensor, linear_forward, (const Tensor& x, const Tensor& w, const Tensor* bias)) \
  X(Tensor, linear_backward_data, (const Tensor& dy, const Tensor& w))   /* [N, K] */ \
  X(Tensor, linear_backward_weight, (const Tensor& dy, const Tensor& x)) /* [M, K] */ \
  X(Tensor, linear_backward_bias, (const Tensor& dy))                    /* [M] */ \
\
  /* ---- loss (loss.cpp): logits [N, C] float, labels [N] int32; label_smoothing eps in */ \
  /* [0, 1]: target = (1 - eps) * onehot(labels) + eps / C (PyTorch's label_smoothing) ---- */ \
  X(CrossEntropyForward, softmax_cross_entropy_forward, \
    (const Tensor& logits, const Tensor& labels, float label_smoothing)) \
  /* dlogits = (softmax(logits) - target) * grad_loss[0] / N; grad_loss is [1] fp32. */ \
  X(Tensor, softmax_cross_entropy_backward, \
    (const Tensor& logits, const Tensor& labels, const Tensor& grad_loss, float label_smoothing)) \
\
  /* ---- optimizer (sgd.cpp): one call updates many tensors; bufs may be empty when */ \
  /* momentum == 0. Params and bufs are fp32; grads fp32. ---- */ \
  X(void, sgd_update_, \
    (const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const std::vector<Tensor>& bufs, \
     const SgdParams& p)) \
\
  /* ---- AdamW (adamw.cpp): one call updates many fp32 tensors in place; per parameter an */ \
  /* exp_avg, an exp_avg_sq, a max_exp_avg_sq (AMSGrad only; else the list is empty) and a */ \
  /* [1] fp32 step count, incremented before it is used. ---- */ \
  X(void, adamw_update_, \
    (const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const std::vector<Tensor>& exp_avgs, \
     const std::vector<Tensor>& exp_avg_sqs, const std::vector<Tensor>& max_exp_avg_sqs, \
     const std::vector<Tensor>& steps, const AdamwParams& p)) \
\
  /* ---- dynamic loss scaling (amp.cpp), all on the device: scale is [1] fp32, the */ \
  /* current loss scale; state is [3] fp32 {found_inf, good_steps, skipped_steps}. ---- */ \
  /* state[0] = 1 if any element of grads (fp32) is inf or NaN, else 0; then every grad is */ \
  /* multiplied by 1 / scale (rounded once, as the reciprocal). */ \
  X(void, amp_unscale_, (const std::vector<Tensor>& grads, const Tensor& scale, const Tensor& state)) \
  /* After the (possibly skipped) update: on found_inf, scale *= backoff, good_steps = 0 and */ \
  /* skipped_steps += 1; otherwise good_steps += 1, and when it reaches growth_interval the */ \
  /* scale grows by growth_factor (kept if finite) and good_steps restarts at 0. */ \
  X(void, amp_update_scale_, (const Tensor& scale, const Tensor& state, const LossScaleParams& p)) \
\
  /* ---- fills (fill.cpp): counter-based Philox4x32-10, so a (seed, element index) pair */ \
  /* gives the same value on every backend. ---- */ \
  X(void, fill_constant_, (const Tensor& t, double value)) \
  X(void, fill_uniform_, (const Tensor& t, double low, double high, uint64_t seed)) \
  X(void, fill_normal_, (const Tensor& t, double mean, double std, uint64_t seed)) \
\
  /* ---- reductions (reduce.cpp): results are [1] / [n] fp32 tensors on this device ---- */ \
  X(Tensor, sum, (const Tensor& x)) \
  X(Tensor, l2_norms, (const std::vector<Tensor>& xs)) /* [n]: ||x_i||_2 */ \
\
  /* ---- tensor math (arith.cpp, reduce.cpp, softmax.cpp, index.cpp): logical row-major */ \
  /* order whatever the layout; results are NCHW in the input's float dtype (fp32 math), */ \
  /* indices int32. Axes are already normalised to [0, rank). ---- */ \
  X(Tensor, arith_binary, (const Tensor& a, const Tensor& b, ArithOp op)) /* broadcasting */ \
  X(Tensor, arith_scalar, (const Tensor& x, double scalar, ScalarOp op)) \
  X(Tensor, arith_unary, (const Tensor& x, UnaryOp op)) \
  X(Tensor, broadcast_to, (const Tensor& x, const Shape& shape)) \
  /* axes sorted, distinct; keepdim keeps them as size 1, else they go (all gone: [1]). */ \
  X(Tensor, reduce_axes, (const Tensor& x, const std::vector<int>& axes, bool keepdim, ReduceMode mode)) \
  /* Along `axis`: the max and the index of its first occurrence (NaN counts as the max). */ \
  X(TensorPair, max_axis, (const Tensor& x, int axis, bool keepdim)) \
  /* The k largest (smallest) along `axis` in that order; equal values in index order. */ \
  X(TensorPair, topk, (const Tensor& x, int64_t k, int axis, bool largest)) \
  /* zeros(shape), then out[.., indices[.., j, ..], ..] += src[.., j, ..] along `axis`; */ \
  /* src and indices share a shape that equals `shape` except along the axis. */ \
  X(Tensor, scatter_add_axis, (const Tensor& src, const Tensor& indices, int axis, const Shape& shape)) \
  X(Tensor, softmax_forward, (const Tensor& x, int axis, bool log)) \
  /* y is the forward's output; dx = y (dy - sum(dy y)), or dy - exp(y) sum(dy) for log. */ \
  X(Tensor, softmax_backward, (const Tensor& dy, const Tensor& y, int axis, bool log)) \
  /* x[.., start : start + count * step : step, ..] along `axis` (a copy). */ \
  X(Tensor, slice, (const Tensor& x, int axis, int64_t start, int64_t step, int64_t count)) \
  X(Tensor, slice_backward, (const Tensor& dy, int axis, int64_t start, int64_t step, const Shape& shape)) \
  /* indices: 1-D int32, each in [0, x.shape[axis]). The backward scatter-adds into zeros. */ \
  X(Tensor, index_select, (const Tensor& x, int axis, const Tensor& indices)) \
  X(Tensor, index_select_backward, (const Tensor& dy, int axis, const Tensor& indices, const Shape& shape)) \
\
  /* ---- CIFAR option-A shortcut (shortcut.cpp): y = zero-pad channels of x[:, :, ::s, ::s] */ \
  /* with (out_channels - C) / 2 zero channels in front and the rest behind. ---- */ \
  X(Tensor, shortcut_a_forward, (const Tensor& x, int64_t out_channels, int stride)) \
  X(Tensor, shortcut_a_backward, (const Tensor& dy, int64_t in_channels, int stride, const Shape& x_shape)) \
\
  /* ---- data (augment.cpp): builds a training batch from the resident uint8 dataset in one */ \
  /* pass. images [M, C, H, W] uint8 NCHW; indices [B] int32 rows of images; params [B, 3] */ \
  /* int32 (dy, dx, flip): the crop's top-left corner in the image padded by `pad` zeros on */ \
  /* each side (0 <= dy, dx <= 2 * pad) and 1 to mirror horizontally. Output [B, C, H, W] */ \
  /* in dtype/layout, each value (v / 255 - mean[c]) / std[c]; padded pixels are v = 0. ---- */ \
  X(Tensor, augment_batch, \
    (const Tensor& images, const Tensor& indices, const Tensor& params, const std::vector<float>& mean, \
     const std::vector<float>& stdev, int pad, DType dtype, Layout layout)) \
  /* labels [M] uint8, indices [B] int32 -> [B] int32 */ \
  X(Tensor, gather_labels, (const Tensor& labels, const Tensor& indices))

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;

#define CR_BACKEND_PURE_VIRTUAL(ret, name, params) virtual ret name params = 0;
  CR_BACKEND_OPS(CR_BACKEND_PURE_VIRTUAL)
#undef CR_BACKEND_PURE_VIRTUAL
};

#define CR_BACKEND_OVERRIDE(ret, name, params) ret name params override;
#define CR_BACKEND_OVERRIDES CR_BACKEND_OPS(CR_BACKEND_OVERRIDE)

// The backend serving a device. Throws OpError (Runtime) when that device is unavailable.
// Defined above core/ (bindings/backend_for.cpp), which is the one place that knows the
// backends, so core/ depends on nothing but itself.
Backend& backend_for(const Device& device);
// The CPU backend (defined in cpu/cpu_backend.cpp).
Backend& cpu_backend();

}  // namespace cr
