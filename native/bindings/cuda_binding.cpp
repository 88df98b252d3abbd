// CUDA availability, versions and allocator statistics, and CUDA graph capture. The same
// code in both builds: a build without the CUDA backend links cuda/placeholders.cpp, whose
// entry points report or raise "cuda:N is unavailable: <why>" (ERR_CUDA_UNAVAILABLE) as the
// real backend does on a machine without a GPU. None of the info functions throw for lack of
// a GPU, driver or cuDNN (cudaMemoryStats excepted: it names an unusable device); the graph
// functions throw ERR_CAPTURE_UNSUPPORTED for the CPU.
#include <cstring>

#include "../core/errors.h"
#include "../cuda/cuda_backend.h"
#include "args.h"
#include "ops.h"

namespace crjs {

Napi::Value CudaInfo(const Napi::CallbackInfo& info) {
  Args a(info, "cudaInfo", 0);
  Napi::Env env = a.env();
  Napi::Object o = Napi::Object::New(env);
  Napi::Array devices = Napi::Array::New(env);
  Napi::Array searched = Napi::Array::New(env);
  Napi::Array algos = Napi::Array::New(env);
  cr::CudaInfo ci = cr::cuda_info();
  o.Set("compiled", cuda_compiled());
  o.Set("available", ci.available);
  o.Set("reason", ci.reason);
  o.Set("deviceCount", static_cast<double>(ci.device_count));
  for (size_t i = 0; i < ci.devices.size(); i++) {
    const cr::CudaDeviceInfo& d = ci.devices[i];
    Napi::Object od = Napi::Object::New(env);
    od.Set("index", static_cast<double>(d.index));
    od.Set("name", d.name);
    od.Set("computeCapability", std::to_string(d.major) + "." + std::to_string(d.minor));
    od.Set("totalMemory", static_cast<double>(d.total_memory));
    devices.Set(static_cast<uint32_t>(i), od);
  }
  o.Set("driverVersion", static_cast<double>(ci.driver_version));
  o.Set("runtimeVersion", static_cast<double>(ci.runtime_version));
  o.Set("cudnnVersion", static_cast<double>(ci.cudnn_version));
  o.Set("cudnnPath", ci.cudnn_path);
  for (size_t i = 0; i < ci.searched.size(); i++) searched.Set(static_cast<uint32_t>(i), ci.searched[i]);
  std::vector<std::string> al = cr::cuda_conv_algorithms();
  for (size_t i = 0; i < al.size(); i++) algos.Set(static_cast<uint32_t>(i), al[i]);
  cr::FusedBnCounts fc = cr::cuda_fused_bn_counts();
  Napi::Object fused = Napi::Object::New(env);
  fused.Set("forward", static_cast<double>(fc.forward));
  fused.Set("backward", static_cast<double>(fc.backward));
  fused.Set("fallbacks", static_cast<double>(fc.fallbacks));
  o.Set("fusedBatchNorm", fused);
  o.Set("devices", devices);
  o.Set("searched", searched);
  o.Set("convAlgorithms", algos);
  return o;
}

Napi::Value CudaMemoryStats(const Napi::CallbackInfo& info) {
  Args a(info, "cudaMemoryStats", 1);
  int64_t device = a.integer(0, "device", 0, 1023);
  cr::CudaMemoryStats m = cr::cuda_memory_stats(static_cast<int>(device));
  Napi::Object o = Napi::Object::New(a.env());
  o.Set("allocated", static_cast<double>(m.allocated));
  o.Set("reserved", static_cast<double>(m.reserved));
  o.Set("peakAllocated", static_cast<double>(m.peak_allocated));
  o.Set("peakReserved", static_cast<double>(m.peak_reserved));
  o.Set("cachedBlocks", static_cast<double>(m.cached_blocks));
  o.Set("mallocCalls", static_cast<double>(m.malloc_calls));
  o.Set("cacheHits", static_cast<double>(m.cache_hits));
  o.Set("oomRetries", static_cast<double>(m.oom_retries));
  o.Set("workspace", static_cast<double>(m.workspace));
  return o;
}

Napi::Value CudaEmptyCache(const Napi::CallbackInfo& info) {
  Args a(info, "cudaEmptyCache", 0);
  cr::cuda_empty_cache();
  return a.env().Undefined();
}

// ---------------------------------------------------------------- graph capture
//
// A graph handle is a plain JS object, type-tagged and napi_wrap'ed around a GraphBox:
// { device, disposed, dispose() }. dispose() destroys the graph exec and releases its pool
// now; the wrap's finalizer does the same for handles nobody disposed.

namespace {

// The CUDA device index of a 'cuda:N' argument; ERR_CAPTURE_UNSUPPORTED for cpu (the caller
// then runs eagerly).
int capture_device(const Args& a, size_t i) {
  cr::Device d = a.device(i, "device");
  if (d.type != cr::DeviceType::CUDA)
    cr::throw_runtime(a.op(), "CUDA graph capture needs a cuda device, got '" + d.str() + "'; run the step eagerly",
                      "ERR_CAPTURE_UNSUPPORTED");
  return d.index;
}

constexpr napi_type_tag kGraphTag = {0x3c7a91e25d4b6f08ULL, 0xa4d2e6f1b9c3570dULL};

struct GraphBox {
  cr::CudaGraph* graph = nullptr;  // null once disposed
};

void finalize_graph(napi_env, void* data, void*) {
  auto* box = static_cast<GraphBox*>(data);
  cr::cuda_graph_destroy(box->graph);  // deferred only while a capture is open: then it leaks
  delete box;
}

// The box behind `v` if it is a graph handle made here, else nullptr.
GraphBox* unwrap_graph(Napi::Env env, const Napi::Value& v) {
  if (!v.IsObject()) return nullptr;
  Napi::Object o = v.As<Napi::Object>();
  if (!o.CheckTypeTag(&kGraphTag)) return nullptr;
  void* p = nullptr;
  if (napi_unwrap(env, o, &p) != napi_ok) return nullptr;
  return static_cast<GraphBox*>(p);
}

Napi::Value GraphDispose(const Napi::CallbackInfo& info) {
  GraphBox* box = unwrap_graph(info.Env(), info.This());
  // While a capture is open the graph stays (disposed reads false): dispose again after it.
  if (box && box->graph && cr::cuda_graph_destroy(box->graph)) box->graph = nullptr;
  return info.Env().Undefined();
}

Napi::Value GraphDisposed(const Napi::CallbackInfo& info) {
  GraphBox* box = unwrap_graph(info.Env(), info.This());
  return Napi::Boolean::New(info.Env(), !box || !box->graph);
}

}  // namespace

Napi::Value GraphCaptureBegin(const Napi::CallbackInfo& info) {
  Args a(info, "graphCaptureBegin", 1);
  cr::cuda_graph_begin(capture_device(a, 0));
  return a.env().Undefined();
}

Napi::Value GraphCaptureEnd(const Napi::CallbackInfo& info) {
  Args a(info, "graphCaptureEnd", 1);
  int device = capture_device(a, 0);
  Napi::Env env = a.env();
  Napi::Object o = Napi::Object::New(env);
  o.TypeTag(&kGraphTag);
  o.DefineProperties({
      Napi::PropertyDescriptor::Value("device", Napi::String::New(env, "cuda:" + std::to_string(device)),
                                      napi_enumerable),
      Napi::PropertyDescriptor::Accessor<GraphDisposed>("disposed", napi_enumerable),
      Napi::PropertyDescriptor::Function(env, o, "dispose", GraphDispose),
  });
  auto* box = new GraphBox();
  if (napi_wrap(env, o, box, finalize_graph, nullptr, nullptr) != napi_ok) {
    delete box;
    cr::cuda_graph_abort(device);
    cr::throw_runtime("graphCaptureEnd", "could not create the graph handle", "ERR_CAPTURE_STATE");
  }
  // Only now end the capture, so that nothing above can leave an instantiated graph unowned.
  box->graph = cr::cuda_graph_end(device);
  return o;
}

Napi::Value GraphCaptureAbort(const Napi::CallbackInfo& info) {
  Args a(info, "graphCaptureAbort", 1);
  cr::cuda_graph_abort(capture_device(a, 0));
  return a.env().Undefined();
}

Napi::Value GraphReplay(const Napi::CallbackInfo& info) {
  Args a(info, "graphReplay", 1);
  GraphBox* box = unwrap_graph(a.env(), info[0]);
  if (!box) cr::throw_type("graphReplay", "graph", "must be a graph handle returned by graphCaptureEnd");
  if (!box->graph) cr::throw_type("graphReplay", "graph", "is disposed");
  cr::cuda_graph_replay(box->graph);
  return a.env().Undefined();
}

// ---------------------------------------------------------------- event timing
//
// eventTimerStart(device) returns a type-tagged handle { device, stopped }; eventTimerStop
// (handle) records the end, waits for it and returns the GPU milliseconds in between. A
// handle stops once; its events are freed then (or by the finalizer if never stopped).

namespace {

constexpr napi_type_tag kTimerTag = {0x5e21c7a9f04b3d16ULL, 0x9b8e1f2d6c7a4053ULL};

struct TimerBox {
  cr::EventTimer* timer = nullptr;  // null once stopped
};

void finalize_timer(napi_env, void* data, void*) {
  auto* box = static_cast<TimerBox*>(data);
  cr::event_timer_free(box->timer);
  delete box;
}

Napi::Value TimerStopped(const Napi::CallbackInfo& info) {
  void* p = nullptr;
  bool stopped = napi_unwrap(info.Env(), info.This(), &p) != napi_ok || !static_cast<TimerBox*>(p)->timer;
  return Napi::Boolean::New(info.Env(), stopped);
}

}  // namespace

Napi::Value EventTimerStart(const Napi::CallbackInfo& info) {
  Args a(info, "eventTimerStart", 1);
  cr::Device d = a.device(0, "device");
  if (d.type != cr::DeviceType::CUDA)
    cr::throw_type(a.op(), "device",
                   "must be a cuda device, got '" + d.str() + "' (time CPU work with process.hrtime)");
  Napi::Env env = a.env();
  Napi::Object o = Napi::Object::New(env);
  o.TypeTag(&kTimerTag);
  o.DefineProperties({
      Napi::PropertyDescriptor::Value("device", Napi::String::New(env, d.str()), napi_enumerable),
      Napi::PropertyDescriptor::Accessor<TimerStopped>("stopped", napi_enumerable),
  });
  auto* box = new TimerBox();
  if (napi_wrap(env, o, box, finalize_timer, nullptr, nullptr) != napi_ok) {
    delete box;
    cr::throw_runtime(a.op(), "could not create the timer handle", "ERR_CUDA");
  }
  box->timer = cr::event_timer_start(d.index);  // on a throw the finalizer frees the empty box
  return o;
}

Napi::Value EventTimerStop(const Napi::CallbackInfo& info) {
  Args a(info, "eventTimerStop", 1);
  Napi::Value v = info[0];
  void* p = nullptr;
  if (!v.IsObject() || !v.As<Napi::Object>().CheckTypeTag(&kTimerTag) || napi_unwrap(a.env(), v, &p) != napi_ok)
    cr::throw_type(a.op(), "timer", "must be a handle returned by eventTimerStart");
  auto* box = static_cast<TimerBox*>(p);
  if (!box->timer) cr::throw_type(a.op(), "timer", "was already stopped (a timer measures one interval)");
  double ms = cr::event_timer_stop(box->timer);
  cr::event_timer_free(box->timer);
  box->timer = nullptr;
  return Napi::Number::New(a.env(), ms);
}

}  // namespace crjs
