// Which host-side calls a CUDA-graph capture forbids, and the one error that says so. A
// capture records the stream's work; a call that waits for the stream, frees device memory
// or copies to pageable host memory either invalidates the capture or would be recorded
// wrong, so each such call asks here first and refuses by name (ERR_CAPTURE_FORBIDDEN).
#pragma once
#include <string>

#include "../../core/errors.h"

namespace cr {
namespace cuda {

enum class HostCall {
  Synchronize,      // cudaStreamSynchronize
  CopyToHost,       // a synchronous device-to-host read
  CopyToHostAsync,  // readAsync: its event would be recorded into the graph, never fired
  CopyFromHost,     // host-to-device copy: the source is host memory the graph would re-read
  EmptyCache,       // cudaFree synchronises the device
  ConvSearch,       // cudnnFind*Ex synchronises and times kernels
  GrowWorkspace,    // the old block may already be referenced by the recorded kernels
  TimerStart,       // event timing waits on the host
  TimerStop,
  GraphReplay,       // replaying into the stream being captured
  FreeHostBuffer,    // cudaFreeHost synchronises implicitly
  AllocateFromPool,  // cudaMalloc (allowed: the allocator opts out for its one call)
  RunCachedConv,     // a convolution whose algorithm is already chosen (allowed)
};

// Why `call` is refused during a capture, or nullptr when it is allowed.
inline const char* capture_refusal(HostCall call) {
  switch (call) {
    case HostCall::Synchronize: return "waiting for the stream";
    case HostCall::CopyToHost: return "reading a tensor on the host waits for the stream";
    case HostCall::CopyToHostAsync: return "reading a tensor on the host waits for the stream";
    case HostCall::CopyFromHost: return "a host-to-device copy waits for the stream";
    case HostCall::EmptyCache: return "freeing cached blocks (cudaFree synchronises the device)";
    case HostCall::ConvSearch:
      return "a cuDNN algorithm search for a convolution shape not seen before (run a warm-up step before "
             "capturing)";
    case HostCall::GrowWorkspace: return "growing the cuDNN workspace (run a warm-up step before capturing)";
    case HostCall::TimerStart: return "recording a timing event";
    case HostCall::TimerStop: return "waiting for a timing event";
    case HostCall::GraphReplay: return "replaying a graph into the stream being captured";
    case HostCall::FreeHostBuffer: return "cudaFreeHost synchronises the device";
    case HostCall::AllocateFromPool:
    case HostCall::RunCachedConv: return nullptr;
  }
  return nullptr;
}

[[noreturn]] inline void throw_capture_forbidden(int device, const std::string& op, const char* why) {
  throw OpError(ErrorKind::Runtime,
                op + ": not allowed while a CUDA graph is being captured on cuda:" + std::to_string(device) + " (" +
                    why + "); run it before graphCaptureBegin or after graphCaptureEnd",
                "ERR_CAPTURE_FORBIDDEN");
}

}  // namespace cuda
}  // namespace cr
