// Entry point of the CUDA backend, compiled only when CMake finds nvcc (CR_WITH_CUDA). This
// header is plain C++ (no CUDA headers) so core/ and bindings/ can include it from g++.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "../core/backend.h"

namespace cr {

// The backend for cuda:<index>; throws OpError (ERR_CUDA_UNAVAILABLE) naming the reason when
// there is no usable GPU, driver or cuDNN.
Backend& cuda_backend(int index);

struct CudaDeviceInfo {
  int index = 0;
  std::string name;
  int major = 0, minor = 0;
  uint64_t total_memory = 0;
};

struct CudaInfo {
  bool available = false;
  std::string reason;  // empty when available
  int device_count = 0;
  std::vector<CudaDeviceInfo> devices;
  int driver_version = 0, runtime_version = 0;  // e.g. 13000
  uint64_t cudnn_version = 0;                   // e.g. 91400; 0 when not loaded
  std::string cudnn_path;
  std::vector<std::string> searched;  // where cuDNN was looked for, with the outcome
};

// Never throws; loads cuDNN on first call to report on it.
CudaInfo cuda_info();

struct CudaMemoryStats {
  uint64_t allocated = 0;       // bytes in blocks handed to tensors (and workspaces)
  uint64_t reserved = 0;        // bytes obtained from cudaMalloc, cached blocks included
  uint64_t peak_allocated = 0;
  uint64_t peak_reserved = 0;
  uint64_t cached_blocks = 0;   // free blocks waiting for reuse
  uint64_t malloc_calls = 0;    // cudaMalloc calls so far
  uint64_t cache_hits = 0;      // allocations served from the cache
  uint64_t oom_retries = 0;     // times the cache was freed to satisfy an allocation
  uint64_t workspace = 0;       // bytes held by the cuDNN workspace
};

// Throws ERR_CUDA_UNAVAILABLE when the device cannot be used.
CudaMemoryStats cuda_memory_stats(int device);
// Frees the cached blocks of every device already in use; a no-op where none is.
void cuda_empty_cache();
// The convolution algorithm chosen for each shape seen so far, one line each.
std::vector<std::string> cuda_conv_algorithms();

struct DeviceContext;

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(DeviceContext* ctx);
  Device device() const override;
  DeviceContext& ctx() const { return *ctx_; }

  Tensor empty(const Shape& shape, DType dtype, Layout layout) override;
  void copy_from_host_(const Tensor& dst, const void* src) override;
  void copy_to_host(const Tensor& src, void* dst) override;
  void copy_(const Tensor& dst, const Tensor& src) override;
  void synchronize() override;
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

 private:
  DeviceContext* ctx_;
};

}  // namespace cr
