// What a cuDNN status means for the caller: a configuration cuDNN declines (take another
// path), a broken installation (tell the user what to install), a shortage of memory, or a
// failure. Plain C++ on cudnn_api.h's types, shared by the addon and the decision tests.
#pragma once
#include <string>

#include "../cudnn_api.h"

namespace cr {
namespace cuda {

enum class StatusKind {
  Ok,
  Refused,      // this configuration is not supported: another algorithm or path may run
  Environment,  // driver, runtime, GPU or sub-library mismatch: no other path will help
  OutOfMemory,  // cuDNN could not allocate device memory
  Failed,       // anything else: a bug or a device fault, raised as is
};

StatusKind classify(dnn::cudnnStatus_t st);
inline bool refused(dnn::cudnnStatus_t st) { return classify(st) == StatusKind::Refused; }
// For Environment statuses: what the user should install or change; empty otherwise.
const char* environment_hint(dnn::cudnnStatus_t st);

// Throws OpError for a failed cuDNN call: OutOfMemory (ERR_CUDA_OOM), else Runtime
// (ERR_CUDNN), with cuDNN's own text (from `api` when it is loaded) and, for an environment
// failure, what to install.
[[noreturn]] void throw_status(const dnn::Api& api, dnn::cudnnStatus_t st, const char* op, const std::string& what,
                               const std::string& detail);

}  // namespace cuda
}  // namespace cr
