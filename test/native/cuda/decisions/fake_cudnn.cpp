#include "fake_cudnn.h"

#include <algorithm>

namespace fake {

namespace {

Script g_script;
Api g_api;
int g_last_query_math = -1;

const char* error_string(cudnnStatus_t st) {
  switch (st) {
    case CUDNN_STATUS_SUCCESS: return "CUDNN_STATUS_SUCCESS";
    case CUDNN_STATUS_NOT_SUPPORTED: return "CUDNN_STATUS_NOT_SUPPORTED";
    case CUDNN_STATUS_BAD_PARAM: return "CUDNN_STATUS_BAD_PARAM";
    case CUDNN_STATUS_EXECUTION_FAILED: return "CUDNN_STATUS_EXECUTION_FAILED";
    case CUDNN_STATUS_INTERNAL_ERROR: return "CUDNN_STATUS_INTERNAL_ERROR";
    default: return "CUDNN_STATUS_OTHER";
  }
}

template <typename P>
int fill(const std::vector<Perf>& src, int requested, P* out, size_t fit, bool filter) {
  int n = 0;
  for (const Perf& p : src) {
    if (n == requested) break;
    out[n].algo = static_cast<decltype(out[n].algo)>(p.algo);
    out[n].status = filter && p.memory > fit ? CUDNN_STATUS_NOT_SUPPORTED : p.status;
    out[n].memory = p.memory;
    out[n].mathType = p.math;
    out[n].time = p.time;
    out[n].determinism = CUDNN_DETERMINISTIC;
    n++;
  }
  return n;
}

template <typename P>
cudnnStatus_t heuristics(int requested, int* got, P* out) {
  Script& s = g_script;
  if (s.heuristics_status != CUDNN_STATUS_SUCCESS) return s.heuristics_status;
  *got = fill(s.heuristics, requested, out, 0, false);
  return CUDNN_STATUS_SUCCESS;
}

template <typename P>
cudnnStatus_t find(int requested, int* got, P* out, void* ws, size_t bytes) {
  Script& s = g_script;
  s.find_calls++;
  s.find_workspace_bytes = bytes;
  s.find_workspace_null = ws == nullptr;
  if (s.find_status != CUDNN_STATUS_SUCCESS) return s.find_status;
  *got = fill(s.timed, requested, out, bytes, true);
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t workspace(int algo, size_t* bytes) {
  Script& s = g_script;
  s.query_math.push_back(s.math);
  g_last_query_math = s.math;
  auto it = s.workspace.find({algo, s.math});
  *bytes = it == s.workspace.end() ? 0 : it->second;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t run(int algo, size_t ws_bytes, const void* beta) {
  Script& s = g_script;
  const bool beta1 = beta && *static_cast<const float*>(beta) == 1.f;
  if (g_last_query_math != s.math) s.mismatched_queries++;
  cudnnStatus_t st = CUDNN_STATUS_SUCCESS;
  auto need = s.workspace.find({algo, s.math});
  if (need != s.workspace.end() && ws_bytes < need->second) st = CUDNN_STATUS_BAD_PARAM;
  auto r = s.run_status.find(algo);
  if (st == CUDNN_STATUS_SUCCESS && r != s.run_status.end()) st = r->second;
  auto r1 = s.run_status_beta1.find(algo);
  if (st == CUDNN_STATUS_SUCCESS && beta1 && r1 != s.run_status_beta1.end()) st = r1->second;
  s.runs.push_back({algo, s.math, ws_bytes, beta1, st});
  return st;
}

}  // namespace

Script& script() { return g_script; }

void reset() {
  g_script = Script();
  g_last_query_math = -1;
  Api& a = g_api;
  a = Api();
  a.cudnnGetErrorString = error_string;
  a.cudnnSetConvolutionMathType = [](cudnnConvolutionDescriptor_t, cudnnMathType_t m) {
    if (g_script.refused_math.count(m)) return CUDNN_STATUS_NOT_SUPPORTED;
    g_script.math = m;
    return CUDNN_STATUS_SUCCESS;
  };
  a.cudnnGetConvolutionForwardAlgorithm_v7 = [](cudnnHandle_t, cudnnTensorDescriptor_t, cudnnFilterDescriptor_t,
                                                cudnnConvolutionDescriptor_t, cudnnTensorDescriptor_t, int n, int* got,
                                                cudnnConvolutionFwdAlgoPerf_t* p) { return heuristics(n, got, p); };
  a.cudnnGetConvolutionBackwardDataAlgorithm_v7 = [](cudnnHandle_t, cudnnFilterDescriptor_t, cudnnTensorDescriptor_t,
                                                     cudnnConvolutionDescriptor_t, cudnnTensorDescriptor_t, int n,
                                                     int* got, cudnnConvolutionBwdDataAlgoPerf_t* p) {
    return heuristics(n, got, p);
  };
  a.cudnnGetConvolutionBackwardFilterAlgorithm_v7 = [](cudnnHandle_t, cudnnTensorDescriptor_t, cudnnTensorDescriptor_t,
                                                       cudnnConvolutionDescriptor_t, cudnnFilterDescriptor_t, int n,
                                                       int* got, cudnnConvolutionBwdFilterAlgoPerf_t* p) {
    return heuristics(n, got, p);
  };
  a.cudnnFindConvolutionForwardAlgorithmEx =
      [](cudnnHandle_t, cudnnTensorDescriptor_t, const void*, cudnnFilterDescriptor_t, const void*,
         cudnnConvolutionDescriptor_t, cudnnTensorDescriptor_t, void*, int n, int* got,
         cudnnConvolutionFwdAlgoPerf_t* p, void* ws, size_t bytes) { return find(n, got, p, ws, bytes); };
  a.cudnnFindConvolutionBackwardDataAlgorithmEx =
      [](cudnnHandle_t, cudnnFilterDescriptor_t, const void*, cudnnTensorDescriptor_t, const void*,
         cudnnConvolutionDescriptor_t, cudnnTensorDescriptor_t, void*, int n, int* got,
         cudnnConvolutionBwdDataAlgoPerf_t* p, void* ws, size_t bytes) { return find(n, got, p, ws, bytes); };
  a.cudnnFindConvolutionBackwardFilterAlgorithmEx =
      [](cudnnHandle_t, cudnnTensorDescriptor_t, const void*, cudnnTensorDescriptor_t, const void*,
         cudnnConvolutionDescriptor_t, cudnnFilterDescriptor_t, void*, int n, int* got,
         cudnnConvolutionBwdFilterAlgoPerf_t* p, void* ws, size_t bytes) { return find(n, got, p, ws, bytes); };
  a.cudnnGetConvolutionForwardWorkspaceSize =
      [](cudnnHandle_t, cudnnTensorDescriptor_t, cudnnFilterDescriptor_t, cudnnConvolutionDescriptor_t,
         cudnnTensorDescriptor_t, cudnnConvolutionFwdAlgo_t algo, size_t* b) { return workspace(algo, b); };
  a.cudnnGetConvolutionBackwardDataWorkspaceSize =
      [](cudnnHandle_t, cudnnFilterDescriptor_t, cudnnTensorDescriptor_t, cudnnConvolutionDescriptor_t,
         cudnnTensorDescriptor_t, cudnnConvolutionBwdDataAlgo_t algo, size_t* b) { return workspace(algo, b); };
  a.cudnnGetConvolutionBackwardFilterWorkspaceSize =
      [](cudnnHandle_t, cudnnTensorDescriptor_t, cudnnTensorDescriptor_t, cudnnConvolutionDescriptor_t,
         cudnnFilterDescriptor_t, cudnnConvolutionBwdFilterAlgo_t algo, size_t* b) { return workspace(algo, b); };
  a.cudnnConvolutionForward = [](cudnnHandle_t, const void*, cudnnTensorDescriptor_t, const void*,
                                 cudnnFilterDescriptor_t, const void*, cudnnConvolutionDescriptor_t,
                                 cudnnConvolutionFwdAlgo_t algo, void*, size_t bytes, const void* beta,
                                 cudnnTensorDescriptor_t, void*) { return run(algo, bytes, beta); };
  a.cudnnConvolutionBackwardData = [](cudnnHandle_t, const void*, cudnnFilterDescriptor_t, const void*,
                                      cudnnTensorDescriptor_t, const void*, cudnnConvolutionDescriptor_t,
                                      cudnnConvolutionBwdDataAlgo_t algo, void*, size_t bytes, const void* beta,
                                      cudnnTensorDescriptor_t, void*) { return run(algo, bytes, beta); };
  a.cudnnConvolutionBackwardFilter = [](cudnnHandle_t, const void*, cudnnTensorDescriptor_t, const void*,
                                        cudnnTensorDescriptor_t, const void*, cudnnConvolutionDescriptor_t,
                                        cudnnConvolutionBwdFilterAlgo_t algo, void*, size_t bytes, const void* beta,
                                        cudnnFilterDescriptor_t, void*) { return run(algo, bytes, beta); };
  a.cudnnGetBatchNormalizationForwardTrainingExWorkspaceSize =
      [](cudnnHandle_t, cudnnBatchNormMode_t, cudnnBatchNormOps_t, cudnnTensorDescriptor_t, cudnnTensorDescriptor_t,
         cudnnTensorDescriptor_t, cudnnTensorDescriptor_t, cudnnActivationDescriptor_t, size_t* b) {
        *b = g_script.bn_workspace;
        return g_script.bn_status;
      };
  a.cudnnGetBatchNormalizationTrainingExReserveSpaceSize = [](cudnnHandle_t, cudnnBatchNormMode_t, cudnnBatchNormOps_t,
                                                              cudnnActivationDescriptor_t, cudnnTensorDescriptor_t,
                                                              size_t* b) {
    *b = g_script.bn_reserve;
    return g_script.bn_status;
  };
  a.cudnnGetBatchNormalizationBackwardExWorkspaceSize =
      [](cudnnHandle_t, cudnnBatchNormMode_t, cudnnBatchNormOps_t, cudnnTensorDescriptor_t, cudnnTensorDescriptor_t,
         cudnnTensorDescriptor_t, cudnnTensorDescriptor_t, cudnnTensorDescriptor_t, cudnnTensorDescriptor_t,
         cudnnActivationDescriptor_t, size_t* b) {
        *b = g_script.bn_backward_workspace;
        return g_script.bn_status;
      };
}

const Api& api() { return g_api; }

}  // namespace fake
