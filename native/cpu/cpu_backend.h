// The reference backend: every op in plain C++, threaded over the machine's cores. It is
// the truth the CUDA backend is tested against, so clarity wins over cleverness everywhere
// except convolution and GEMM, which must be fast enough to train small nets on a CPU.
#pragma once
#include "../core/backend.h"

namespace cr {

class CpuBackend final : public Backend {
 public:
  Device device() const override { return Device{DeviceType::CPU, 0}; }

  Tensor empty(const Shape& shape, DType dtype, Layout layout) override;
  void copy_from_host_(const Tensor& dst, const void* src) override;
  void copy_to_host(const Tensor& src, void* dst) override;
  void copy_(const Tensor& dst, const Tensor& src) override;
  void synchronize() override {}
  Tensor cast(const Tensor& x, DType dtype) override;
  Tensor to_layout(const Tensor& x, Layout layout) override;

  Tensor conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, const Conv2dParams& p) override;
  Tensor conv2d_backward_data(const Tensor& dy, const Tensor& w, const Shape& x_shape, const Conv2dParams& p) override;
  Tensor conv2d_backward_filter(const Tensor& dy, const Tensor& x, const Shape& w_shape, const Conv2dParams& p) override;
  Tensor conv2d_backward_bias(const Tensor& dy) override;

  BatchNormForward batchnorm_forward_training(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                              const Tensor& running_mean, const Tensor& running_var, double momentum,
                                              double eps, const Tensor* residual, bool relu) override;
  Tensor batchnorm_forward_inference(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                     const Tensor& running_mean, const Tensor& running_var, double eps,
                                     const Tensor* residual, bool relu) override;
  BatchNormBackward batchnorm_backward(const Tensor& dy, const Tensor& x, const Tensor& gamma,
                                       const Tensor& save_mean, const Tensor& save_invstd, double eps,
                                       const Tensor* y, bool relu, bool has_residual) override;

  Tensor relu_forward(const Tensor& x) override;
  Tensor relu_backward(const Tensor& dy, const Tensor& y) override;
  Tensor add(const Tensor& a, const Tensor& b) override;
  Tensor scale(const Tensor& x, float alpha) override;
  void axpy_(float alpha, const Tensor& x, const Tensor& y) override;

  Tensor pool2d_forward(const Tensor& x, const Pool2dParams& p) override;
  Tensor pool2d_backward(const Tensor& dy, const Tensor& x, const Tensor& y, const Pool2dParams& p) override;

  Tensor linear_forward(const Tensor& x, const Tensor& w, const Tensor* bias) override;
  Tensor linear_backward_data(const Tensor& dy, const Tensor& w) override;
  Tensor linear_backward_weight(const Tensor& dy, const Tensor& x) override;
  Tensor linear_backward_bias(const Tensor& dy) override;

  CrossEntropyForward softmax_cross_entropy_forward(const Tensor& logits, const Tensor& labels) override;
  Tensor softmax_cross_entropy_backward(const Tensor& logits, const Tensor& labels, const Tensor& grad_loss) override;

  void sgd_update_(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                   const std::vector<Tensor>& bufs, const SgdParams& p) override;

  void fill_constant_(const Tensor& t, double value) override;
  void fill_uniform_(const Tensor& t, double low, double high, uint64_t seed) override;
  void fill_normal_(const Tensor& t, double mean, double std, uint64_t seed) override;

  Tensor sum(const Tensor& x) override;
  Tensor l2_norms(const std::vector<Tensor>& xs) override;

  Tensor shortcut_a_forward(const Tensor& x, int64_t out_channels, int stride) override;
  Tensor shortcut_a_backward(const Tensor& dy, int64_t in_channels, int stride, const Shape& x_shape) override;

  Tensor augment_batch(const Tensor& images, const Tensor& indices, const Tensor& params,
                       const std::vector<float>& mean, const std::vector<float>& stdev, int pad, DType dtype,
                       Layout layout) override;
  Tensor gather_labels(const Tensor& labels, const Tensor& indices) override;
};

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
