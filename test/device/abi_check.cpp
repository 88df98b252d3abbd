// Compiles the addon's own cuDNN declarations (native/cuda/cudnn_api.h, namespace cr::dnn)
// against NVIDIA's real cudnn.h and fails to compile on any difference: every enum value,
// the layout of every struct, and every function-pointer type must equal
// decltype(&realFunction) once our types are mapped onto theirs.
// Run on a machine with cuDNN 9 installed (test/device/run.sh does):
//   g++ -std=c++17 -Wno-deprecated-declarations -I/usr/local/cuda/include \
//       -I/usr/include/x86_64-linux-gnu test/device/abi_check.cpp -o /tmp/abi_check && /tmp/abi_check
// The enum/struct lists below were generated from cudnn_api.h (regenerate them when the
// header gains an enum); the function list is the header's own CR_CUDNN_FUNCTIONS, so a new
// entry point is checked without editing this file.
#include <cudnn.h>

#include <cstddef>
#include <cstdio>
#include <type_traits>

#include "../../native/cuda/cudnn_api.h"

namespace M = cr::dnn;

// Map<T>: our type -> the real header's type, through pointers, const and function types.
template <class T>
struct Map {
  using type = T;
};
template <class T>
struct Map<T*> {
  using type = typename Map<T>::type*;
};
template <class T>
struct Map<const T> {
  using type = const typename Map<T>::type;
};
template <class R, class... A>
struct Map<R(A...)> {
  using type = typename Map<R>::type(typename Map<A>::type...);
};
template <class R, class... A>
struct Map<R (*)(A...)> {
  using type = typename Map<R(A...)>::type*;
};
#define CR_MAP(T) \
  template <> \
  struct Map<M::T> { \
    using type = ::T; \
  };

CR_MAP(cudnnHandle_t)
CR_MAP(cudnnTensorDescriptor_t)
CR_MAP(cudnnFilterDescriptor_t)
CR_MAP(cudnnConvolutionDescriptor_t)
CR_MAP(cudnnPoolingDescriptor_t)
CR_MAP(cudnnActivationDescriptor_t)
CR_MAP(cudnnStatus_t)
CR_MAP(cudnnDataType_t)
CR_MAP(cudnnMathType_t)
CR_MAP(cudnnNanPropagation_t)
CR_MAP(cudnnDeterminism_t)
CR_MAP(cudnnTensorFormat_t)
CR_MAP(cudnnConvolutionMode_t)
CR_MAP(cudnnConvolutionFwdAlgo_t)
CR_MAP(cudnnConvolutionBwdDataAlgo_t)
CR_MAP(cudnnConvolutionBwdFilterAlgo_t)
CR_MAP(cudnnBatchNormMode_t)
CR_MAP(cudnnBatchNormOps_t)
CR_MAP(cudnnActivationMode_t)
CR_MAP(cudnnPoolingMode_t)
CR_MAP(cudnnConvolutionFwdAlgoPerf_t)
CR_MAP(cudnnConvolutionBwdDataAlgoPerf_t)
CR_MAP(cudnnConvolutionBwdFilterAlgoPerf_t)

// ---- types: same size (enums pass as int-sized values) ----
static_assert(sizeof(M::cudnnStatus_t) == sizeof(::cudnnStatus_t), "size of cudnnStatus_t");
static_assert(sizeof(M::cudnnDataType_t) == sizeof(::cudnnDataType_t), "size of cudnnDataType_t");
static_assert(sizeof(M::cudnnMathType_t) == sizeof(::cudnnMathType_t), "size of cudnnMathType_t");
static_assert(sizeof(M::cudnnNanPropagation_t) == sizeof(::cudnnNanPropagation_t), "size of cudnnNanPropagation_t");
static_assert(sizeof(M::cudnnDeterminism_t) == sizeof(::cudnnDeterminism_t), "size of cudnnDeterminism_t");
static_assert(sizeof(M::cudnnTensorFormat_t) == sizeof(::cudnnTensorFormat_t), "size of cudnnTensorFormat_t");
static_assert(sizeof(M::cudnnConvolutionMode_t) == sizeof(::cudnnConvolutionMode_t), "size of cudnnConvolutionMode_t");
static_assert(sizeof(M::cudnnConvolutionFwdAlgo_t) == sizeof(::cudnnConvolutionFwdAlgo_t),
              "size of cudnnConvolutionFwdAlgo_t");
static_assert(sizeof(M::cudnnConvolutionBwdDataAlgo_t) == sizeof(::cudnnConvolutionBwdDataAlgo_t),
              "size of cudnnConvolutionBwdDataAlgo_t");
static_assert(sizeof(M::cudnnConvolutionBwdFilterAlgo_t) == sizeof(::cudnnConvolutionBwdFilterAlgo_t),
              "size of cudnnConvolutionBwdFilterAlgo_t");
static_assert(sizeof(M::cudnnBatchNormMode_t) == sizeof(::cudnnBatchNormMode_t), "size of cudnnBatchNormMode_t");
static_assert(sizeof(M::cudnnBatchNormOps_t) == sizeof(::cudnnBatchNormOps_t), "size of cudnnBatchNormOps_t");
static_assert(sizeof(M::cudnnActivationMode_t) == sizeof(::cudnnActivationMode_t), "size of cudnnActivationMode_t");
static_assert(sizeof(M::cudnnPoolingMode_t) == sizeof(::cudnnPoolingMode_t), "size of cudnnPoolingMode_t");

// ---- enum values ----
static_assert(static_cast<long long>(M::CUDNN_STATUS_SUCCESS) == static_cast<long long>(::CUDNN_STATUS_SUCCESS),
              "cudnnStatus_t::CUDNN_STATUS_SUCCESS");
static_assert(static_cast<long long>(M::CUDNN_STATUS_NOT_INITIALIZED) ==
                  static_cast<long long>(::CUDNN_STATUS_NOT_INITIALIZED),
              "cudnnStatus_t::CUDNN_STATUS_NOT_INITIALIZED");
static_assert(static_cast<long long>(M::CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH) ==
                  static_cast<long long>(::CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH),
              "cudnnStatus_t::CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH");
static_assert(static_cast<long long>(M::CUDNN_STATUS_BAD_PARAM) == static_cast<long long>(::CUDNN_STATUS_BAD_PARAM),
              "cudnnStatus_t::CUDNN_STATUS_BAD_PARAM");
static_assert(static_cast<long long>(M::CUDNN_STATUS_NOT_SUPPORTED) ==
                  static_cast<long long>(::CUDNN_STATUS_NOT_SUPPORTED),
              "cudnnStatus_t::CUDNN_STATUS_NOT_SUPPORTED");
static_assert(static_cast<long long>(M::CUDNN_STATUS_NOT_SUPPORTED_SHAPE) ==
                  static_cast<long long>(::CUDNN_STATUS_NOT_SUPPORTED_SHAPE),
              "cudnnStatus_t::CUDNN_STATUS_NOT_SUPPORTED_SHAPE");
static_assert(static_cast<long long>(M::CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE) ==
                  static_cast<long long>(::CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE),
              "cudnnStatus_t::CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE");
static_assert(static_cast<long long>(M::CUDNN_STATUS_NOT_SUPPORTED_LAYOUT) ==
                  static_cast<long long>(::CUDNN_STATUS_NOT_SUPPORTED_LAYOUT),
              "cudnnStatus_t::CUDNN_STATUS_NOT_SUPPORTED_LAYOUT");
static_assert(static_cast<long long>(M::CUDNN_STATUS_INTERNAL_ERROR) ==
                  static_cast<long long>(::CUDNN_STATUS_INTERNAL_ERROR),
              "cudnnStatus_t::CUDNN_STATUS_INTERNAL_ERROR");
static_assert(static_cast<long long>(M::CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED) ==
                  static_cast<long long>(::CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED),
              "cudnnStatus_t::CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED");
static_assert(static_cast<long long>(M::CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED) ==
                  static_cast<long long>(::CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED),
              "cudnnStatus_t::CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED");
static_assert(static_cast<long long>(M::CUDNN_STATUS_EXECUTION_FAILED) ==
                  static_cast<long long>(::CUDNN_STATUS_EXECUTION_FAILED),
              "cudnnStatus_t::CUDNN_STATUS_EXECUTION_FAILED");
static_assert(static_cast<long long>(M::CUDNN_DATA_FLOAT) == static_cast<long long>(::CUDNN_DATA_FLOAT),
              "cudnnDataType_t::CUDNN_DATA_FLOAT");
static_assert(static_cast<long long>(M::CUDNN_DATA_DOUBLE) == static_cast<long long>(::CUDNN_DATA_DOUBLE),
              "cudnnDataType_t::CUDNN_DATA_DOUBLE");
static_assert(static_cast<long long>(M::CUDNN_DATA_HALF) == static_cast<long long>(::CUDNN_DATA_HALF),
              "cudnnDataType_t::CUDNN_DATA_HALF");
static_assert(static_cast<long long>(M::CUDNN_DATA_INT8) == static_cast<long long>(::CUDNN_DATA_INT8),
              "cudnnDataType_t::CUDNN_DATA_INT8");
static_assert(static_cast<long long>(M::CUDNN_DATA_INT32) == static_cast<long long>(::CUDNN_DATA_INT32),
              "cudnnDataType_t::CUDNN_DATA_INT32");
static_assert(static_cast<long long>(M::CUDNN_DATA_UINT8) == static_cast<long long>(::CUDNN_DATA_UINT8),
              "cudnnDataType_t::CUDNN_DATA_UINT8");
static_assert(static_cast<long long>(M::CUDNN_DATA_BFLOAT16) == static_cast<long long>(::CUDNN_DATA_BFLOAT16),
              "cudnnDataType_t::CUDNN_DATA_BFLOAT16");
static_assert(static_cast<long long>(M::CUDNN_DEFAULT_MATH) == static_cast<long long>(::CUDNN_DEFAULT_MATH),
              "cudnnMathType_t::CUDNN_DEFAULT_MATH");
static_assert(static_cast<long long>(M::CUDNN_TENSOR_OP_MATH) == static_cast<long long>(::CUDNN_TENSOR_OP_MATH),
              "cudnnMathType_t::CUDNN_TENSOR_OP_MATH");
static_assert(static_cast<long long>(M::CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) ==
                  static_cast<long long>(::CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION),
              "cudnnMathType_t::CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION");
static_assert(static_cast<long long>(M::CUDNN_FMA_MATH) == static_cast<long long>(::CUDNN_FMA_MATH),
              "cudnnMathType_t::CUDNN_FMA_MATH");
static_assert(static_cast<long long>(M::CUDNN_NOT_PROPAGATE_NAN) == static_cast<long long>(::CUDNN_NOT_PROPAGATE_NAN),
              "cudnnNanPropagation_t::CUDNN_NOT_PROPAGATE_NAN");
static_assert(static_cast<long long>(M::CUDNN_PROPAGATE_NAN) == static_cast<long long>(::CUDNN_PROPAGATE_NAN),
              "cudnnNanPropagation_t::CUDNN_PROPAGATE_NAN");
static_assert(static_cast<long long>(M::CUDNN_NON_DETERMINISTIC) == static_cast<long long>(::CUDNN_NON_DETERMINISTIC),
              "cudnnDeterminism_t::CUDNN_NON_DETERMINISTIC");
static_assert(static_cast<long long>(M::CUDNN_DETERMINISTIC) == static_cast<long long>(::CUDNN_DETERMINISTIC),
              "cudnnDeterminism_t::CUDNN_DETERMINISTIC");
static_assert(static_cast<long long>(M::CUDNN_TENSOR_NCHW) == static_cast<long long>(::CUDNN_TENSOR_NCHW),
              "cudnnTensorFormat_t::CUDNN_TENSOR_NCHW");
static_assert(static_cast<long long>(M::CUDNN_TENSOR_NHWC) == static_cast<long long>(::CUDNN_TENSOR_NHWC),
              "cudnnTensorFormat_t::CUDNN_TENSOR_NHWC");
static_assert(static_cast<long long>(M::CUDNN_TENSOR_NCHW_VECT_C) == static_cast<long long>(::CUDNN_TENSOR_NCHW_VECT_C),
              "cudnnTensorFormat_t::CUDNN_TENSOR_NCHW_VECT_C");
static_assert(static_cast<long long>(M::CUDNN_CONVOLUTION) == static_cast<long long>(::CUDNN_CONVOLUTION),
              "cudnnConvolutionMode_t::CUDNN_CONVOLUTION");
static_assert(static_cast<long long>(M::CUDNN_CROSS_CORRELATION) == static_cast<long long>(::CUDNN_CROSS_CORRELATION),
              "cudnnConvolutionMode_t::CUDNN_CROSS_CORRELATION");
static_assert(static_cast<long long>(M::CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM) ==
                  static_cast<long long>(::CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM),
              "cudnnConvolutionFwdAlgo_t::CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM");
static_assert(static_cast<long long>(M::CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM) ==
                  static_cast<long long>(::CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM),
              "cudnnConvolutionFwdAlgo_t::CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM");
static_assert(static_cast<long long>(M::CUDNN_CONVOLUTION_FWD_ALGO_GEMM) ==
                  static_cast<long long>(::CUDNN_CONVOLUTION_FWD_ALGO_GEMM),
              "cudnnConvolutionFwdAlgo_t::CUDNN_CONVOLUTION_FWD_ALGO_GEMM");
static_assert(static_cast<long long>(M::CUDNN_CONVOLUTION_FWD_ALGO_DIRECT) ==
                  static_cast<long long>(::CUDNN_CONVOLUTION_FWD_ALGO_DIRECT),
              "cudnnConvolutionFwdAlgo_t::CUDNN_CONVOLUTION_FWD_ALGO_DIRECT");
static_assert(static_cast<long long>(M::CUDNN_CONVOLUTION_FWD_ALGO_FFT) ==
                  static_cast<long long>(::CUDNN_CONVOLUTION_FWD_ALGO_FFT),
              "cudnnConvolutionFwdAlgo_t::CUDNN_CONVOLUTION_FWD_ALGO_FFT");
static_assert(static_cast<long long>(M::CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING) ==
                  static_cast<long long>(::CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING),
              "cudnnConvolutionFwdAlgo_t::CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING");
static_assert(static_cast<long long>(M::CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD) ==
                  static_cast<long long>(::CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD),
              "cudnnConvolutionFwdAlgo_t::CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD");
static_assert(static_cast<long long>(M::CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED) ==
                  static_cast<long long>(::CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED),
              "cudnnConvolutionFwdAlgo_t::CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED");
static_assert(static_cast<long long>(M::CUDNN_CONVOLUTION_FWD_ALGO_COUNT) ==
                  static_cast<long long>(::CUDNN_CONVOLUTION_FWD_ALGO_COUNT),
              "cudnnConvolutionFwdAlgo_t::CUDNN_CONVOLUTION_FWD_ALGO_COUNT");
static_assert(static_cast<long long>(M::CUDNN_CONVOLUTION_BWD_DATA_ALGO_0) ==
                  static_cast<long long>(::CUDNN_CONVOLUTION_BWD_DATA_ALGO_0),
              "cudnnConvolutionBwdDataAlgo_t::CUDNN_CONVOLUTION_BWD_DATA_ALGO_0");
static_assert(static_cast<long long>(M::CUDNN_CONVOLUTION_BWD_DATA_ALGO_1) ==
                  static_cast<long long>(::CUDNN_CONVOLUTION_BWD_DATA_ALGO_1),
              "cudnnConvolutionBwdDataAlgo_t::CUDNN_CONVOLUTION_BWD_DATA_ALGO_1");
static_assert(static_cast<long long>(M::CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT) ==
                  static_cast<long long>(::CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT),
              "cudnnConvolutionBwdDataAlgo_t::CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT");
static_assert(static_cast<long long>(M::CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING) ==
                  static_cast<long long>(::CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING),
              "cudnnConvolutionBwdDataAlgo_t::CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING");
static_assert(static_cast<long long>(M::CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD) ==
                  static_cast<long long>(::CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD),
              "cudnnConvolutionBwdDataAlgo_t::CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD");
static_assert(static_cast<long long>(M::CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED) ==
                  static_cast<long long>(::CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED),
              "cudnnConvolutionBwdDataAlgo_t::CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED");
static_assert(static_cast<long long>(M::CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT) ==
                  static_cast<long long>(::CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT),
              "cudnnConvolutionBwdDataAlgo_t::CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT");
static_assert(static_cast<long long>(M::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0) ==
                  static_cast<long long>(::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0),
              "cudnnConvolutionBwdFilterAlgo_t::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0");
static_assert(static_cast<long long>(M::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1) ==
                  static_cast<long long>(::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1),
              "cudnnConvolutionBwdFilterAlgo_t::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1");
static_assert(static_cast<long long>(M::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT) ==
                  static_cast<long long>(::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT),
              "cudnnConvolutionBwdFilterAlgo_t::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT");
static_assert(static_cast<long long>(M::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3) ==
                  static_cast<long long>(::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3),
              "cudnnConvolutionBwdFilterAlgo_t::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3");
static_assert(static_cast<long long>(M::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD) ==
                  static_cast<long long>(::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD),
              "cudnnConvolutionBwdFilterAlgo_t::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD");
static_assert(static_cast<long long>(M::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED) ==
                  static_cast<long long>(::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED),
              "cudnnConvolutionBwdFilterAlgo_t::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED");
static_assert(static_cast<long long>(M::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING) ==
                  static_cast<long long>(::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING),
              "cudnnConvolutionBwdFilterAlgo_t::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING");
static_assert(static_cast<long long>(M::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT) ==
                  static_cast<long long>(::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT),
              "cudnnConvolutionBwdFilterAlgo_t::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT");
static_assert(static_cast<long long>(M::CUDNN_BATCHNORM_PER_ACTIVATION) ==
                  static_cast<long long>(::CUDNN_BATCHNORM_PER_ACTIVATION),
              "cudnnBatchNormMode_t::CUDNN_BATCHNORM_PER_ACTIVATION");
static_assert(static_cast<long long>(M::CUDNN_BATCHNORM_SPATIAL) == static_cast<long long>(::CUDNN_BATCHNORM_SPATIAL),
              "cudnnBatchNormMode_t::CUDNN_BATCHNORM_SPATIAL");
static_assert(static_cast<long long>(M::CUDNN_BATCHNORM_SPATIAL_PERSISTENT) ==
                  static_cast<long long>(::CUDNN_BATCHNORM_SPATIAL_PERSISTENT),
              "cudnnBatchNormMode_t::CUDNN_BATCHNORM_SPATIAL_PERSISTENT");
static_assert(static_cast<long long>(M::CUDNN_BATCHNORM_OPS_BN) == static_cast<long long>(::CUDNN_BATCHNORM_OPS_BN),
              "cudnnBatchNormOps_t::CUDNN_BATCHNORM_OPS_BN");
static_assert(static_cast<long long>(M::CUDNN_BATCHNORM_OPS_BN_ACTIVATION) ==
                  static_cast<long long>(::CUDNN_BATCHNORM_OPS_BN_ACTIVATION),
              "cudnnBatchNormOps_t::CUDNN_BATCHNORM_OPS_BN_ACTIVATION");
static_assert(static_cast<long long>(M::CUDNN_BATCHNORM_OPS_BN_ADD_ACTIVATION) ==
                  static_cast<long long>(::CUDNN_BATCHNORM_OPS_BN_ADD_ACTIVATION),
              "cudnnBatchNormOps_t::CUDNN_BATCHNORM_OPS_BN_ADD_ACTIVATION");
static_assert(static_cast<long long>(M::CUDNN_ACTIVATION_SIGMOID) == static_cast<long long>(::CUDNN_ACTIVATION_SIGMOID),
              "cudnnActivationMode_t::CUDNN_ACTIVATION_SIGMOID");
static_assert(static_cast<long long>(M::CUDNN_ACTIVATION_RELU) == static_cast<long long>(::CUDNN_ACTIVATION_RELU),
              "cudnnActivationMode_t::CUDNN_ACTIVATION_RELU");
static_assert(static_cast<long long>(M::CUDNN_ACTIVATION_TANH) == static_cast<long long>(::CUDNN_ACTIVATION_TANH),
              "cudnnActivationMode_t::CUDNN_ACTIVATION_TANH");
static_assert(static_cast<long long>(M::CUDNN_ACTIVATION_CLIPPED_RELU) ==
                  static_cast<long long>(::CUDNN_ACTIVATION_CLIPPED_RELU),
              "cudnnActivationMode_t::CUDNN_ACTIVATION_CLIPPED_RELU");
static_assert(static_cast<long long>(M::CUDNN_ACTIVATION_ELU) == static_cast<long long>(::CUDNN_ACTIVATION_ELU),
              "cudnnActivationMode_t::CUDNN_ACTIVATION_ELU");
static_assert(static_cast<long long>(M::CUDNN_ACTIVATION_IDENTITY) ==
                  static_cast<long long>(::CUDNN_ACTIVATION_IDENTITY),
              "cudnnActivationMode_t::CUDNN_ACTIVATION_IDENTITY");
static_assert(static_cast<long long>(M::CUDNN_POOLING_MAX) == static_cast<long long>(::CUDNN_POOLING_MAX),
              "cudnnPoolingMode_t::CUDNN_POOLING_MAX");
static_assert(static_cast<long long>(M::CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING) ==
                  static_cast<long long>(::CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING),
              "cudnnPoolingMode_t::CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING");
static_assert(static_cast<long long>(M::CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING) ==
                  static_cast<long long>(::CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING),
              "cudnnPoolingMode_t::CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING");
static_assert(static_cast<long long>(M::CUDNN_POOLING_MAX_DETERMINISTIC) ==
                  static_cast<long long>(::CUDNN_POOLING_MAX_DETERMINISTIC),
              "cudnnPoolingMode_t::CUDNN_POOLING_MAX_DETERMINISTIC");

// ---- struct layouts ----
static_assert(sizeof(M::cudnnConvolutionFwdAlgoPerf_t) == sizeof(::cudnnConvolutionFwdAlgoPerf_t),
              "sizeof cudnnConvolutionFwdAlgoPerf_t");
static_assert(offsetof(M::cudnnConvolutionFwdAlgoPerf_t, algo) == offsetof(::cudnnConvolutionFwdAlgoPerf_t, algo),
              "cudnnConvolutionFwdAlgoPerf_t.algo");
static_assert(offsetof(M::cudnnConvolutionFwdAlgoPerf_t, status) == offsetof(::cudnnConvolutionFwdAlgoPerf_t, status),
              "cudnnConvolutionFwdAlgoPerf_t.status");
static_assert(offsetof(M::cudnnConvolutionFwdAlgoPerf_t, time) == offsetof(::cudnnConvolutionFwdAlgoPerf_t, time),
              "cudnnConvolutionFwdAlgoPerf_t.time");
static_assert(offsetof(M::cudnnConvolutionFwdAlgoPerf_t, memory) == offsetof(::cudnnConvolutionFwdAlgoPerf_t, memory),
              "cudnnConvolutionFwdAlgoPerf_t.memory");
static_assert(offsetof(M::cudnnConvolutionFwdAlgoPerf_t, determinism) ==
                  offsetof(::cudnnConvolutionFwdAlgoPerf_t, determinism),
              "cudnnConvolutionFwdAlgoPerf_t.determinism");
static_assert(offsetof(M::cudnnConvolutionFwdAlgoPerf_t, mathType) ==
                  offsetof(::cudnnConvolutionFwdAlgoPerf_t, mathType),
              "cudnnConvolutionFwdAlgoPerf_t.mathType");
static_assert(offsetof(M::cudnnConvolutionFwdAlgoPerf_t, reserved) ==
                  offsetof(::cudnnConvolutionFwdAlgoPerf_t, reserved),
              "cudnnConvolutionFwdAlgoPerf_t.reserved");
static_assert(sizeof(M::cudnnConvolutionBwdDataAlgoPerf_t) == sizeof(::cudnnConvolutionBwdDataAlgoPerf_t),
              "sizeof cudnnConvolutionBwdDataAlgoPerf_t");
static_assert(offsetof(M::cudnnConvolutionBwdDataAlgoPerf_t, algo) ==
                  offsetof(::cudnnConvolutionBwdDataAlgoPerf_t, algo),
              "cudnnConvolutionBwdDataAlgoPerf_t.algo");
static_assert(offsetof(M::cudnnConvolutionBwdDataAlgoPerf_t, status) ==
                  offsetof(::cudnnConvolutionBwdDataAlgoPerf_t, status),
              "cudnnConvolutionBwdDataAlgoPerf_t.status");
static_assert(offsetof(M::cudnnConvolutionBwdDataAlgoPerf_t, time) ==
                  offsetof(::cudnnConvolutionBwdDataAlgoPerf_t, time),
              "cudnnConvolutionBwdDataAlgoPerf_t.time");
static_assert(offsetof(M::cudnnConvolutionBwdDataAlgoPerf_t, memory) ==
                  offsetof(::cudnnConvolutionBwdDataAlgoPerf_t, memory),
              "cudnnConvolutionBwdDataAlgoPerf_t.memory");
static_assert(offsetof(M::cudnnConvolutionBwdDataAlgoPerf_t, determinism) ==
                  offsetof(::cudnnConvolutionBwdDataAlgoPerf_t, determinism),
              "cudnnConvolutionBwdDataAlgoPerf_t.determinism");
static_assert(offsetof(M::cudnnConvolutionBwdDataAlgoPerf_t, mathType) ==
                  offsetof(::cudnnConvolutionBwdDataAlgoPerf_t, mathType),
              "cudnnConvolutionBwdDataAlgoPerf_t.mathType");
static_assert(offsetof(M::cudnnConvolutionBwdDataAlgoPerf_t, reserved) ==
                  offsetof(::cudnnConvolutionBwdDataAlgoPerf_t, reserved),
              "cudnnConvolutionBwdDataAlgoPerf_t.reserved");
static_assert(sizeof(M::cudnnConvolutionBwdFilterAlgoPerf_t) == sizeof(::cudnnConvolutionBwdFilterAlgoPerf_t),
              "sizeof cudnnConvolutionBwdFilterAlgoPerf_t");
static_assert(offsetof(M::cudnnConvolutionBwdFilterAlgoPerf_t, algo) ==
                  offsetof(::cudnnConvolutionBwdFilterAlgoPerf_t, algo),
              "cudnnConvolutionBwdFilterAlgoPerf_t.algo");
static_assert(offsetof(M::cudnnConvolutionBwdFilterAlgoPerf_t, status) ==
                  offsetof(::cudnnConvolutionBwdFilterAlgoPerf_t, status),
              "cudnnConvolutionBwdFilterAlgoPerf_t.status");
static_assert(offsetof(M::cudnnConvolutionBwdFilterAlgoPerf_t, time) ==
                  offsetof(::cudnnConvolutionBwdFilterAlgoPerf_t, time),
              "cudnnConvolutionBwdFilterAlgoPerf_t.time");
static_assert(offsetof(M::cudnnConvolutionBwdFilterAlgoPerf_t, memory) ==
                  offsetof(::cudnnConvolutionBwdFilterAlgoPerf_t, memory),
              "cudnnConvolutionBwdFilterAlgoPerf_t.memory");
static_assert(offsetof(M::cudnnConvolutionBwdFilterAlgoPerf_t, determinism) ==
                  offsetof(::cudnnConvolutionBwdFilterAlgoPerf_t, determinism),
              "cudnnConvolutionBwdFilterAlgoPerf_t.determinism");
static_assert(offsetof(M::cudnnConvolutionBwdFilterAlgoPerf_t, mathType) ==
                  offsetof(::cudnnConvolutionBwdFilterAlgoPerf_t, mathType),
              "cudnnConvolutionBwdFilterAlgoPerf_t.mathType");
static_assert(offsetof(M::cudnnConvolutionBwdFilterAlgoPerf_t, reserved) ==
                  offsetof(::cudnnConvolutionBwdFilterAlgoPerf_t, reserved),
              "cudnnConvolutionBwdFilterAlgoPerf_t.reserved");

// ---- entry points ----
#define CR_CHECK_FN(name) \
  static_assert(std::is_same<Map<M::name##_fn>::type, decltype(&::name)>::value, \
                #name ": the signature in cudnn_api.h differs from cudnn.h");
CR_CUDNN_FUNCTIONS(CR_CHECK_FN)

#define CR_COUNT(name) +1
int main() {
  std::printf("ABI check passed against cudnn.h %d.%d.%d: %d entry points, 72 enum values, 3 structs\n", CUDNN_MAJOR,
              CUDNN_MINOR, CUDNN_PATCHLEVEL, 0 CR_CUDNN_FUNCTIONS(CR_COUNT));
  return 0;
}
