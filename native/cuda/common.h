// What every CUDA file shares: the one error check (cudaError_t / cudnnStatus_t -> OpError
// naming the op and its shapes), the device guard, and RAII for cuDNN descriptors.
#pragma once
#include <cuda_runtime.h>

#include <string>
#include <utility>

#include "../core/errors.h"
#include "../core/tensor.h"
#include "cudnn_api.h"
#include "cudnn_loader.h"

namespace cr {
namespace cuda {

// Throws OpError for a failed CUDA call: OutOfMemory (ERR_CUDA_OOM) for allocation
// failures, Runtime (ERR_CUDA) otherwise. `what` is the failing expression, `detail` the
// shapes involved. Clears the sticky last error so later calls start clean.
[[noreturn]] void throw_cuda(cudaError_t st, const char* op, const char* what, const std::string& detail);
[[noreturn]] void throw_cudnn(dnn::cudnnStatus_t st, const char* op, const char* what, const std::string& detail);

// `detail` is evaluated only on failure, so building a shape string costs nothing on success.
#define CR_CUDA_CHECK(expr, op, detail) \
  do { \
    cudaError_t cr_st_ = (expr); \
    if (cr_st_ != cudaSuccess) ::cr::cuda::throw_cuda(cr_st_, op, #expr, (detail)); \
  } while (0)
#define CR_CUDNN_CHECK(expr, op, detail) \
  do { \
    ::cr::dnn::cudnnStatus_t cr_st_ = (expr); \
    if (cr_st_ != ::cr::dnn::CUDNN_STATUS_SUCCESS) ::cr::cuda::throw_cudnn(cr_st_, op, #expr, (detail)); \
  } while (0)
// After a kernel launch: configuration errors surface here, not at the next sync.
#define CR_LAUNCH_CHECK(op, detail) CR_CUDA_CHECK(cudaGetLastError(), op, detail)

// Makes `device` current for a scope and restores the previous one.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int prev_ = -1;
  bool changed_ = false;
};

// One RAII wrapper for every cuDNN descriptor type: Descriptor<T, &Api::cudnnCreateX,
// &Api::cudnnDestroyX>. Create/destroy go through the loaded table.
template <typename T, typename CreateFn, typename DestroyFn, CreateFn dnn::Api::*Create, DestroyFn dnn::Api::*Destroy>
class Descriptor {
 public:
  Descriptor() { CR_CUDNN_CHECK((dnn::api().*Create)(&d_), "cudnn", "creating a descriptor"); }
  ~Descriptor() {
    if (d_) (dnn::api().*Destroy)(d_);
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  Descriptor(Descriptor&& o) noexcept : d_(std::exchange(o.d_, nullptr)) {}
  T get() const { return d_; }
  operator T() const { return d_; }

 private:
  T d_ = nullptr;
};

using TensorDesc =
    Descriptor<dnn::cudnnTensorDescriptor_t, dnn::cudnnCreateTensorDescriptor_fn, dnn::cudnnDestroyTensorDescriptor_fn,
               &dnn::Api::cudnnCreateTensorDescriptor, &dnn::Api::cudnnDestroyTensorDescriptor>;
using FilterDesc =
    Descriptor<dnn::cudnnFilterDescriptor_t, dnn::cudnnCreateFilterDescriptor_fn, dnn::cudnnDestroyFilterDescriptor_fn,
               &dnn::Api::cudnnCreateFilterDescriptor, &dnn::Api::cudnnDestroyFilterDescriptor>;
using ConvDesc = Descriptor<dnn::cudnnConvolutionDescriptor_t, dnn::cudnnCreateConvolutionDescriptor_fn,
                            dnn::cudnnDestroyConvolutionDescriptor_fn, &dnn::Api::cudnnCreateConvolutionDescriptor,
                            &dnn::Api::cudnnDestroyConvolutionDescriptor>;
using PoolDesc = Descriptor<dnn::cudnnPoolingDescriptor_t, dnn::cudnnCreatePoolingDescriptor_fn,
                            dnn::cudnnDestroyPoolingDescriptor_fn, &dnn::Api::cudnnCreatePoolingDescriptor,
                            &dnn::Api::cudnnDestroyPoolingDescriptor>;
using ActivationDesc = Descriptor<dnn::cudnnActivationDescriptor_t, dnn::cudnnCreateActivationDescriptor_fn,
                                  dnn::cudnnDestroyActivationDescriptor_fn, &dnn::Api::cudnnCreateActivationDescriptor,
                                  &dnn::Api::cudnnDestroyActivationDescriptor>;

// "x [128, 16, 32, 32] float32 NCHW cuda:0, w [...]" for error messages.
std::string describe_args(std::initializer_list<std::pair<const char*, const Tensor*>> args);

}  // namespace cuda
}  // namespace cr
