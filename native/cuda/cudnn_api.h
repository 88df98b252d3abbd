// The subset of the cuDNN 9 C API this addon calls, declared here rather than taken from
// cudnn.h: the build machines have no cuDNN, and the library is dlopen()ed at run time
// (cudnn_loader.cu). Names, enum values and signatures follow NVIDIA's public API reference
// for cudnn_graph.h / cudnn_ops.h / cudnn_cnn.h (cuDNN 9.x, legacy "v7-style" API).
// test/device/abi_check.cpp compiles this header beside the real cudnn.h and static_asserts
// every enum value, struct layout and function-pointer type against it.
//
// Everything lives in cr::dnn so that the real header can be included in the same unit.
// Only the legacy entry points are used; swapping them for the graph API later touches
// this header, the loader's table and conv.cu, batchnorm.cu, pooling.cu only.
#pragma once
#include <cstddef>

#include "cudnn_types.h"

namespace cr {
namespace dnn {

// ---- function-pointer types, one per entry point (name##_fn) ----
using cudnnGetVersion_fn = size_t (*)(void);
using cudnnGetErrorString_fn = const char* (*)(cudnnStatus_t);
using cudnnGetLastErrorString_fn = void (*)(char* message, size_t max_size);
using cudnnCreate_fn = cudnnStatus_t (*)(cudnnHandle_t* handle);
using cudnnDestroy_fn = cudnnStatus_t (*)(cudnnHandle_t handle);
using cudnnSetStream_fn = cudnnStatus_t (*)(cudnnHandle_t handle, cudaStream_t streamId);

using cudnnCreateTensorDescriptor_fn = cudnnStatus_t (*)(cudnnTensorDescriptor_t* tensorDesc);
using cudnnDestroyTensorDescriptor_fn = cudnnStatus_t (*)(cudnnTensorDescriptor_t tensorDesc);
using cudnnSetTensor4dDescriptor_fn = cudnnStatus_t (*)(cudnnTensorDescriptor_t tensorDesc, cudnnTensorFormat_t format,
                                                        cudnnDataType_t dataType, int n, int c, int h, int w);
using cudnnSetTensor4dDescriptorEx_fn = cudnnStatus_t (*)(cudnnTensorDescriptor_t tensorDesc, cudnnDataType_t dataType,
                                                          int n, int c, int h, int w, int nStride, int cStride,
                                                          int hStride, int wStride);

using cudnnCreateFilterDescriptor_fn = cudnnStatus_t (*)(cudnnFilterDescriptor_t* filterDesc);
using cudnnDestroyFilterDescriptor_fn = cudnnStatus_t (*)(cudnnFilterDescriptor_t filterDesc);
using cudnnSetFilter4dDescriptor_fn = cudnnStatus_t (*)(cudnnFilterDescriptor_t filterDesc, cudnnDataType_t dataType,
                                                        cudnnTensorFormat_t format, int k, int c, int h, int w);

using cudnnCreateConvolutionDescriptor_fn = cudnnStatus_t (*)(cudnnConvolutionDescriptor_t* convDesc);
using cudnnDestroyConvolutionDescriptor_fn = cudnnStatus_t (*)(cudnnConvolutionDescriptor_t convDesc);
using cudnnSetConvolution2dDescriptor_fn = cudnnStatus_t (*)(cudnnConvolutionDescriptor_t convDesc, int pad_h,
                                                             int pad_w, int u, int v, int dilation_h, int dilation_w,
                                                             cudnnConvolutionMode_t mode, cudnnDataType_t computeType);
using cudnnSetConvolutionMathType_fn = cudnnStatus_t (*)(cudnnConvolutionDescriptor_t convDesc,
                                                         cudnnMathType_t mathType);

using cudnnGetConvolutionForwardAlgorithm_v7_fn =
    cudnnStatus_t (*)(cudnnHandle_t handle, cudnnTensorDescriptor_t srcDesc, cudnnFilterDescriptor_t filterDesc,
                      cudnnConvolutionDescriptor_t convDesc, cudnnTensorDescriptor_t destDesc, int requestedAlgoCount,
                      int* returnedAlgoCount, cudnnConvolutionFwdAlgoPerf_t* perfResults);
using cudnnFindConvolutionForwardAlgorithmEx_fn = cudnnStatus_t (*)(
    cudnnHandle_t handle, cudnnTensorDescriptor_t xDesc, const void* x, cudnnFilterDescriptor_t wDesc, const void* w,
    cudnnConvolutionDescriptor_t convDesc, cudnnTensorDescriptor_t yDesc, void* y, int requestedAlgoCount,
    int* returnedAlgoCount, cudnnConvolutionFwdAlgoPerf_t* perfResults, void* workSpace, size_t workSpaceSizeInBytes);
using cudnnGetConvolutionForwardWorkspaceSize_fn =
    cudnnStatus_t (*)(cudnnHandle_t handle, cudnnTensorDescriptor_t xDesc, cudnnFilterDescriptor_t wDesc,
                      cudnnConvolutionDescriptor_t convDesc, cudnnTensorDescriptor_t yDesc,
                      cudnnConvolutionFwdAlgo_t algo, size_t* sizeInBytes);
using cudnnConvolutionForward_fn = cudnnStatus_t (*)(
    cudnnHandle_t handle, const void* alpha, cudnnTensorDescriptor_t xDesc, const void* x,
    cudnnFilterDescriptor_t wDesc, const void* w, cudnnConvolutionDescriptor_t convDesc, cudnnConvolutionFwdAlgo_t algo,
    void* workSpace, size_t workSpaceSizeInBytes, const void* beta, cudnnTensorDescriptor_t yDesc, void* y);

using cudnnGetConvolutionBackwardDataAlgorithm_v7_fn =
    cudnnStatus_t (*)(cudnnHandle_t handle, cudnnFilterDescriptor_t filterDesc, cudnnTensorDescriptor_t diffDesc,
                      cudnnConvolutionDescriptor_t convDesc, cudnnTensorDescriptor_t gradDesc, int requestedAlgoCount,
                      int* returnedAlgoCount, cudnnConvolutionBwdDataAlgoPerf_t* perfResults);
using cudnnFindConvolutionBackwardDataAlgorithmEx_fn =
    cudnnStatus_t (*)(cudnnHandle_t handle, cudnnFilterDescriptor_t wDesc, const void* w,
                      cudnnTensorDescriptor_t dyDesc, const void* dy, cudnnConvolutionDescriptor_t convDesc,
                      cudnnTensorDescriptor_t dxDesc, void* dx, int requestedAlgoCount, int* returnedAlgoCount,
                      cudnnConvolutionBwdDataAlgoPerf_t* perfResults, void* workSpace, size_t workSpaceSizeInBytes);
using cudnnGetConvolutionBackwardDataWorkspaceSize_fn =
    cudnnStatus_t (*)(cudnnHandle_t handle, cudnnFilterDescriptor_t wDesc, cudnnTensorDescriptor_t dyDesc,
                      cudnnConvolutionDescriptor_t convDesc, cudnnTensorDescriptor_t dxDesc,
                      cudnnConvolutionBwdDataAlgo_t algo, size_t* sizeInBytes);
using cudnnConvolutionBackwardData_fn = cudnnStatus_t (*)(cudnnHandle_t handle, const void* alpha,
                                                          cudnnFilterDescriptor_t wDesc, const void* w,
                                                          cudnnTensorDescriptor_t dyDesc, const void* dy,
                                                          cudnnConvolutionDescriptor_t convDesc,
                                                          cudnnConvolutionBwdDataAlgo_t algo, void* workSpace,
                                                          size_t workSpaceSizeInBytes, const void* beta,
                                                          cudnnTensorDescriptor_t dxDesc, void* dx);

using cudnnGetConvolutionBackwardFilterAlgorithm_v7_fn =
    cudnnStatus_t (*)(cudnnHandle_t handle, cudnnTensorDescriptor_t srcDesc, cudnnTensorDescriptor_t diffDesc,
                      cudnnConvolutionDescriptor_t convDesc, cudnnFilterDescriptor_t gradDesc, int requestedAlgoCount,
                      int* returnedAlgoCount, cudnnConvolutionBwdFilterAlgoPerf_t* perfResults);
using cudnnFindConvolutionBackwardFilterAlgorithmEx_fn =
    cudnnStatus_t (*)(cudnnHandle_t handle, cudnnTensorDescriptor_t xDesc, const void* x,
                      cudnnTensorDescriptor_t dyDesc, const void* y, cudnnConvolutionDescriptor_t convDesc,
                      cudnnFilterDescriptor_t dwDesc, void* dw, int requestedAlgoCount, int* returnedAlgoCount,
                      cudnnConvolutionBwdFilterAlgoPerf_t* perfResults, void* workSpace, size_t workSpaceSizeInBytes);
using cudnnGetConvolutionBackwardFilterWorkspaceSize_fn =
    cudnnStatus_t (*)(cudnnHandle_t handle, cudnnTensorDescriptor_t xDesc, cudnnTensorDescriptor_t dyDesc,
                      cudnnConvolutionDescriptor_t convDesc, cudnnFilterDescriptor_t gradDesc,
                      cudnnConvolutionBwdFilterAlgo_t algo, size_t* sizeInBytes);
using cudnnConvolutionBackwardFilter_fn = cudnnStatus_t (*)(cudnnHandle_t handle, const void* alpha,
                                                            cudnnTensorDescriptor_t xDesc, const void* x,
                                                            cudnnTensorDescriptor_t dyDesc, const void* dy,
                                                            cudnnConvolutionDescriptor_t convDesc,
                                                            cudnnConvolutionBwdFilterAlgo_t algo, void* workSpace,
                                                            size_t workSpaceSizeInBytes, const void* beta,
                                                            cudnnFilterDescriptor_t dwDesc, void* dw);

using cudnnBatchNormalizationForwardTraining_fn = cudnnStatus_t (*)(
    cudnnHandle_t handle, cudnnBatchNormMode_t mode, const void* alpha, const void* beta, cudnnTensorDescriptor_t xDesc,
    const void* x, cudnnTensorDescriptor_t yDesc, void* y, cudnnTensorDescriptor_t bnScaleBiasMeanVarDesc,
    const void* bnScale, const void* bnBias, double exponentialAverageFactor, void* resultRunningMean,
    void* resultRunningVariance, double epsilon, void* resultSaveMean, void* resultSaveInvVariance);
using cudnnBatchNormalizationForwardInference_fn = cudnnStatus_t (*)(
    cudnnHandle_t handle, cudnnBatchNormMode_t mode, const void* alpha, const void* beta, cudnnTensorDescriptor_t xDesc,
    const void* x, cudnnTensorDescriptor_t yDesc, void* y, cudnnTensorDescriptor_t bnScaleBiasMeanVarDesc,
    const void* bnScale, const void* bnBias, const void* estimatedMean, const void* estimatedVariance, double epsilon);
using cudnnBatchNormalizationBackward_fn = cudnnStatus_t (*)(
    cudnnHandle_t handle, cudnnBatchNormMode_t mode, const void* alphaDataDiff, const void* betaDataDiff,
    const void* alphaParamDiff, const void* betaParamDiff, cudnnTensorDescriptor_t xDesc, const void* x,
    cudnnTensorDescriptor_t dyDesc, const void* dy, cudnnTensorDescriptor_t dxDesc, void* dx,
    cudnnTensorDescriptor_t dBnScaleBiasDesc, const void* bnScale, void* dBnScaleResult, void* dBnBiasResult,
    double epsilon, const void* savedMean, const void* savedInvVariance);

// Fused batch norm (+ add + activation), forward only here: NHWC fp16/bf16 with the
// persistent spatial mode.
using cudnnCreateActivationDescriptor_fn = cudnnStatus_t (*)(cudnnActivationDescriptor_t* activationDesc);
using cudnnDestroyActivationDescriptor_fn = cudnnStatus_t (*)(cudnnActivationDescriptor_t activationDesc);
using cudnnSetActivationDescriptor_fn = cudnnStatus_t (*)(cudnnActivationDescriptor_t activationDesc,
                                                          cudnnActivationMode_t mode, cudnnNanPropagation_t reluNanOpt,
                                                          double coef);
using cudnnGetBatchNormalizationForwardTrainingExWorkspaceSize_fn = cudnnStatus_t (*)(
    cudnnHandle_t handle, cudnnBatchNormMode_t mode, cudnnBatchNormOps_t bnOps, cudnnTensorDescriptor_t xDesc,
    cudnnTensorDescriptor_t zDesc, cudnnTensorDescriptor_t yDesc, cudnnTensorDescriptor_t bnScaleBiasMeanVarDesc,
    cudnnActivationDescriptor_t activationDesc, size_t* sizeInBytes);
using cudnnGetBatchNormalizationTrainingExReserveSpaceSize_fn =
    cudnnStatus_t (*)(cudnnHandle_t handle, cudnnBatchNormMode_t mode, cudnnBatchNormOps_t bnOps,
                      cudnnActivationDescriptor_t activationDesc, cudnnTensorDescriptor_t xDesc, size_t* sizeInBytes);
using cudnnBatchNormalizationForwardTrainingEx_fn = cudnnStatus_t (*)(
    cudnnHandle_t handle, cudnnBatchNormMode_t mode, cudnnBatchNormOps_t bnOps, const void* alpha, const void* beta,
    cudnnTensorDescriptor_t xDesc, const void* xData, cudnnTensorDescriptor_t zDesc, const void* zData,
    cudnnTensorDescriptor_t yDesc, void* yData, cudnnTensorDescriptor_t bnScaleBiasMeanVarDesc, const void* bnScale,
    const void* bnBias, double exponentialAverageFactor, void* resultRunningMean, void* resultRunningVariance,
    double epsilon, void* resultSaveMean, void* resultSaveInvVariance, cudnnActivationDescriptor_t activationDesc,
    void* workspace, size_t workSpaceSizeInBytes, void* reserveSpace, size_t reserveSpaceSizeInBytes);
using cudnnGetBatchNormalizationBackwardExWorkspaceSize_fn = cudnnStatus_t (*)(
    cudnnHandle_t handle, cudnnBatchNormMode_t mode, cudnnBatchNormOps_t bnOps, cudnnTensorDescriptor_t xDesc,
    cudnnTensorDescriptor_t yDesc, cudnnTensorDescriptor_t dyDesc, cudnnTensorDescriptor_t dzDesc,
    cudnnTensorDescriptor_t dxDesc, cudnnTensorDescriptor_t dBnScaleBiasDesc,
    cudnnActivationDescriptor_t activationDesc, size_t* sizeInBytes);
using cudnnBatchNormalizationBackwardEx_fn = cudnnStatus_t (*)(
    cudnnHandle_t handle, cudnnBatchNormMode_t mode, cudnnBatchNormOps_t bnOps, const void* alphaDataDiff,
    const void* betaDataDiff, const void* alphaParamDiff, const void* betaParamDiff, cudnnTensorDescriptor_t xDesc,
    const void* xData, cudnnTensorDescriptor_t yDesc, const void* yData, cudnnTensorDescriptor_t dyDesc,
    const void* dyData, cudnnTensorDescriptor_t dzDesc, void* dzData, cudnnTensorDescriptor_t dxDesc, void* dxData,
    cudnnTensorDescriptor_t dBnScaleBiasDesc, const void* bnScaleData, const void* bnBiasData, void* dBnScaleData,
    void* dBnBiasData, double epsilon, const void* savedMean, const void* savedInvVariance,
    cudnnActivationDescriptor_t activationDesc, void* workSpace, size_t workSpaceSizeInBytes, void* reserveSpace,
    size_t reserveSpaceSizeInBytes);

using cudnnCreatePoolingDescriptor_fn = cudnnStatus_t (*)(cudnnPoolingDescriptor_t* poolingDesc);
using cudnnDestroyPoolingDescriptor_fn = cudnnStatus_t (*)(cudnnPoolingDescriptor_t poolingDesc);
using cudnnSetPooling2dDescriptor_fn = cudnnStatus_t (*)(cudnnPoolingDescriptor_t poolingDesc, cudnnPoolingMode_t mode,
                                                         cudnnNanPropagation_t maxpoolingNanOpt, int windowHeight,
                                                         int windowWidth, int verticalPadding, int horizontalPadding,
                                                         int verticalStride, int horizontalStride);
using cudnnPoolingForward_fn = cudnnStatus_t (*)(cudnnHandle_t handle, const cudnnPoolingDescriptor_t poolingDesc,
                                                 const void* alpha, const cudnnTensorDescriptor_t xDesc, const void* x,
                                                 const void* beta, const cudnnTensorDescriptor_t yDesc, void* y);
using cudnnPoolingBackward_fn = cudnnStatus_t (*)(cudnnHandle_t handle, const cudnnPoolingDescriptor_t poolingDesc,
                                                  const void* alpha, const cudnnTensorDescriptor_t yDesc, const void* y,
                                                  const cudnnTensorDescriptor_t dyDesc, const void* dy,
                                                  const cudnnTensorDescriptor_t xDesc, const void* x, const void* beta,
                                                  const cudnnTensorDescriptor_t dxDesc, void* dx);

// Every entry point, for the loader's dlsym table and the ABI check. X(name) expands per name;
// name##_fn is its type.
#define CR_CUDNN_FUNCTIONS(X) \
  X(cudnnGetVersion) \
  X(cudnnGetErrorString) \
  X(cudnnGetLastErrorString) \
  X(cudnnCreate) \
  X(cudnnDestroy) \
  X(cudnnSetStream) \
  X(cudnnCreateTensorDescriptor) \
  X(cudnnDestroyTensorDescriptor) \
  X(cudnnSetTensor4dDescriptor) \
  X(cudnnSetTensor4dDescriptorEx) \
  X(cudnnCreateFilterDescriptor) \
  X(cudnnDestroyFilterDescriptor) \
  X(cudnnSetFilter4dDescriptor) \
  X(cudnnCreateConvolutionDescriptor) \
  X(cudnnDestroyConvolutionDescriptor) \
  X(cudnnSetConvolution2dDescriptor) \
  X(cudnnSetConvolutionMathType) \
  X(cudnnGetConvolutionForwardAlgorithm_v7) \
  X(cudnnFindConvolutionForwardAlgorithmEx) \
  X(cudnnGetConvolutionForwardWorkspaceSize) \
  X(cudnnConvolutionForward) \
  X(cudnnGetConvolutionBackwardDataAlgorithm_v7) \
  X(cudnnFindConvolutionBackwardDataAlgorithmEx) \
  X(cudnnGetConvolutionBackwardDataWorkspaceSize) \
  X(cudnnConvolutionBackwardData) \
  X(cudnnGetConvolutionBackwardFilterAlgorithm_v7) \
  X(cudnnFindConvolutionBackwardFilterAlgorithmEx) \
  X(cudnnGetConvolutionBackwardFilterWorkspaceSize) \
  X(cudnnConvolutionBackwardFilter) \
  X(cudnnBatchNormalizationForwardTraining) \
  X(cudnnBatchNormalizationForwardInference) \
  X(cudnnBatchNormalizationBackward) \
  X(cudnnCreateActivationDescriptor) \
  X(cudnnDestroyActivationDescriptor) \
  X(cudnnSetActivationDescriptor) \
  X(cudnnGetBatchNormalizationForwardTrainingExWorkspaceSize) \
  X(cudnnGetBatchNormalizationTrainingExReserveSpaceSize) \
  X(cudnnBatchNormalizationForwardTrainingEx) \
  X(cudnnGetBatchNormalizationBackwardExWorkspaceSize) \
  X(cudnnBatchNormalizationBackwardEx) \
  X(cudnnCreatePoolingDescriptor) \
  X(cudnnDestroyPoolingDescriptor) \
  X(cudnnSetPooling2dDescriptor) \
  X(cudnnPoolingForward) \
  X(cudnnPoolingBackward)

// The loaded table: one pointer per entry point, all non-null once loading succeeded.
struct Api {
#define CR_CUDNN_MEMBER(name) name##_fn name = nullptr;
  CR_CUDNN_FUNCTIONS(CR_CUDNN_MEMBER)
#undef CR_CUDNN_MEMBER
};

}  // namespace dnn
}  // namespace cr
