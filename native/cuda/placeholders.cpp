// The CUDA backend's entry points for a build without it (no nvcc, or CR_CUDA=OFF): linked
// in place of the .cu files, so bindings and backend selection compile the same code in both
// builds. Each entry point that needs a device raises what the real backend raises on a
// machine without a usable GPU: ERR_CUDA_UNAVAILABLE, "cuda:N is unavailable: <why>". The
// info functions report the same reason instead of throwing, as theirs do.
#include "../core/errors.h"
#include "cuda_backend.h"

namespace cr {
namespace {

const char* const kWhy =
    "this build of cudnn-resnet has no CUDA backend (it was built without nvcc, or with CR_CUDA=OFF / "
    "CUDNN_RESNET_NO_CUDA=1)";

[[noreturn]] void unavailable(int device) {
  throw OpError(ErrorKind::Runtime, "cuda:" + std::to_string(device) + " is unavailable: " + kWhy,
                "ERR_CUDA_UNAVAILABLE");
}

}  // namespace

Backend& cuda_backend(int index) { unavailable(index); }

CudaInfo cuda_info() {
  CudaInfo info;
  info.reason = kWhy;
  return info;
}

CudaMemoryStats cuda_memory_stats(int device) { unavailable(device); }
void cuda_empty_cache() {}  // no device was ever used: nothing is cached
std::vector<std::string> cuda_conv_algorithms() { return {}; }
FusedBnCounts cuda_fused_bn_counts() { return {}; }

void cuda_graph_begin(int device) { unavailable(device); }
CudaGraph* cuda_graph_end(int device) { unavailable(device); }
void cuda_graph_abort(int) noexcept {}
// Unreachable without a graph, and no graph can exist here; kept total all the same.
void cuda_graph_replay(CudaGraph*) { unavailable(0); }
bool cuda_graph_destroy(CudaGraph*) noexcept { return true; }
int cuda_graph_device(const CudaGraph*) { return 0; }

EventTimer* event_timer_start(int device) { unavailable(device); }
double event_timer_stop(EventTimer*) { unavailable(0); }
void event_timer_free(EventTimer*) noexcept {}

}  // namespace cr
