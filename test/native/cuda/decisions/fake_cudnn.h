// A scripted cuDNN: a dnn::Api table whose entries answer from a per-test script and record
// what was asked. It follows the contract the cuDNN API reference documents for each call
// (cited where the tests rely on it):
// - cudnnGetConvolution*Algorithm_v7 and cudnnFind*AlgorithmEx fill at most
//   requestedAlgoCount results, best first, each with its own status, memory and mathType
//   ("the math type provided to the algorithm"), and report the count returned.
// - cudnnFind*AlgorithmEx times only algorithms whose workspace fits workSpaceSizeInBytes;
//   the others come back with a non-success status. The call itself returns BAD_PARAM for bad
//   arguments, INTERNAL_ERROR when it cannot allocate its internal structures, and
//   EXECUTION_FAILED when a kernel fails to launch.
// - cudnnGet*WorkspaceSize answers for the algorithm under the math type currently set on the
//   convolution descriptor (cudnnSetConvolutionMathType), which is also the math type the
//   convolution call then runs with.
// - the convolution calls return BAD_PARAM when the workspace given is smaller than the
//   algorithm needs, and NOT_SUPPORTED for a configuration the algorithm does not run.
// - cudnnGetBatchNormalization*Ex*Size report the workspace / reserve bytes for the given
//   ops; a zero workspace means the Ex call would behave as the non-extended one.
#pragma once
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "../../../../native/cuda/cudnn_api.h"

namespace fake {

using namespace cr::dnn;

struct Perf {
  int algo;
  cudnnStatus_t status;
  size_t memory;
  cudnnMathType_t math;
  float time;
};

struct Script {
  // ---- convolution (shared by the three passes) ----
  std::vector<Perf> heuristics;
  cudnnStatus_t heuristics_status = CUDNN_STATUS_SUCCESS;
  std::vector<Perf> timed;  // what Find*Ex measures, best first (before the fit-in-workspace filter)
  cudnnStatus_t find_status = CUDNN_STATUS_SUCCESS;
  std::map<std::pair<int, int>, size_t> workspace;  // (algo, math) -> bytes; absent: 0
  std::map<int, cudnnStatus_t> run_status;          // algo -> status of the convolution call
  std::map<int, cudnnStatus_t> run_status_beta1;    // algo -> status when beta = 1
  std::set<int> refused_math;                       // math types SetConvolutionMathType refuses
  // ---- batch norm Ex sizes ----
  size_t bn_workspace = 1024, bn_reserve = 512, bn_backward_workspace = 1024;
  cudnnStatus_t bn_status = CUDNN_STATUS_SUCCESS;

  // ---- what happened ----
  int math = CUDNN_TENSOR_OP_MATH;  // the descriptor's math type now
  int find_calls = 0;
  size_t find_workspace_bytes = 0;
  bool find_workspace_null = false;
  struct Run {
    int algo;
    int math;
    size_t ws_bytes;
    bool beta1;
    cudnnStatus_t status;
  };
  std::vector<Run> runs;
  std::vector<int> query_math;  // the math type in force at each workspace-size query
  int mismatched_queries = 0;   // runs whose math differs from the last size query's
};

Script& script();
// A fresh script, and the table that answers from it.
void reset();
const Api& api();

}  // namespace fake
