#include "tensor_handle.h"

#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../core/backend.h"
#include "../core/errors.h"
#include "../cpu/cpu_backend.h"
#include "ops.h"

namespace crjs {

namespace {

// Marks objects made by this addon, so a look-alike JS object is never unwrapped.
constexpr napi_type_tag kTensorTag = {0x6b1d3f2a9c4e5b70ULL, 0x8e2f1a6d3c5b4e91ULL};

std::atomic<int64_t> g_live{0};
thread_local const cr::Tensor* t_pending = nullptr;

struct AddonData {
  Napi::FunctionReference ctor;
};

// Host copy of a tensor as the JS-facing typed array's elements (floats widen to fp32).
Napi::Value to_typed_array(Napi::Env env, const cr::Tensor& t, const std::vector<uint8_t>& raw) {
  size_t n = static_cast<size_t>(t.numel());
  switch (t.dtype) {
    case cr::DType::F32: {
      auto a = Napi::Float32Array::New(env, n);
      std::memcpy(a.Data(), raw.data(), n * 4);
      return a;
    }
    case cr::DType::F16:
    case cr::DType::BF16: {
      auto a = Napi::Float32Array::New(env, n);
      const uint16_t* h = reinterpret_cast<const uint16_t*>(raw.data());
      float* out = a.Data();
      for (size_t i = 0; i < n; i++)
        out[i] = t.dtype == cr::DType::F16 ? cr::half_to_float(h[i]) : cr::bf16_to_float(h[i]);
      return a;
    }
    case cr::DType::I32: {
      auto a = Napi::Int32Array::New(env, n);
      std::memcpy(a.Data(), raw.data(), n * 4);
      return a;
    }
    case cr::DType::U8: {
      auto a = Napi::Uint8Array::New(env, n);
      std::memcpy(a.Data(), raw.data(), n);
      return a;
    }
  }
  return env.Undefined();
}

std::vector<uint8_t> host_copy(const cr::Tensor& t) {
  std::vector<uint8_t> raw(t.nbytes());
  cr::backend_for(t.device()).copy_to_host(t, raw.data());
  return raw;
}

// readAsync's worker: the copy was queued on the device's stream when readAsync() was
// called; the worker thread only waits for it, so it never adds work to the stream at some
// later moment (where it would wait for later steps, or land in a graph being captured).
// Pending readAsync() calls wait on one thread of their own, in the order they were made
// (which is also the order their copies complete: each device has one stream), and resolve
// their promise on the JS thread through a thread-safe function. An AsyncWorker per read
// would park one thread of libuv's pool (4 by default, shared with file I/O) per pending
// read: a few replays queued ahead would starve data loading.
class ReadQueue {
 public:
  struct Job {
    cr::Tensor tensor;  // shape and dtype for the typed array
    std::vector<uint8_t> raw;
    std::function<void()> wait;
    Napi::Promise::Deferred deferred;
    Napi::ThreadSafeFunction done;  // keeps the event loop alive until the promise settles
    std::string error;
  };

  static void push(Job* job) {
    ReadQueue& q = instance();
    std::lock_guard<std::mutex> lock(q.mu_);
    if (!q.thread_started_) {
      std::thread(&ReadQueue::run, &q).detach();  // lives as long as the process
      q.thread_started_ = true;
    }
    q.jobs_.push_back(job);
    q.cv_.notify_one();
  }

 private:
  static ReadQueue& instance() {
    static ReadQueue* q = new ReadQueue();  // leaked: the detached thread may outlive statics
    return *q;
  }

  void run() {
    for (;;) {
      Job* job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return !jobs_.empty(); });
        job = jobs_.front();
        jobs_.pop_front();
      }
      try {
        job->wait();
      } catch (const std::exception& e) {
        job->error = e.what();
        if (job->error.empty()) job->error = "readAsync failed";
      }
      Napi::ThreadSafeFunction done = job->done;
      done.BlockingCall(job, settle);
      done.Release();
    }
  }

  static void settle(Napi::Env env, Napi::Function, Job* job) {
    std::unique_ptr<Job> owned(job);
    if (env == nullptr) return;  // the environment is shutting down
    Napi::HandleScope scope(env);
    if (job->error.empty())
      job->deferred.Resolve(to_typed_array(env, job->tensor, job->raw));
    else
      job->deferred.Reject(Napi::Error::New(env, job->error).Value());
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job*> jobs_;
  bool thread_started_ = false;
};

// Runs an accessor or method of a handle: `h` is the live handle behind `this`, nullptr when
// it was disposed. C++ exceptions become JS ones here, as ObjectWrap's wrappers would do.
using Member = Napi::Value (*)(const Napi::CallbackInfo& info, TensorHandle* h);

template <Member M>
napi_value call_member(napi_env env, napi_callback_info cbinfo) {
  try {
    Napi::CallbackInfo info(env, cbinfo);
    bool disposed = false;
    TensorHandle* h = TensorHandle::Unwrap(info.This(), &disposed);
    if (!h && !disposed) throw Napi::TypeError::New(env, "this is not a NativeTensor");
    return M(info, h);
  } catch (const Napi::Error& e) {
    e.ThrowAsJavaScriptException();
    return nullptr;
  } catch (const cr::OpError& e) {
    to_js_error(Napi::Env(env), e).ThrowAsJavaScriptException();
    return nullptr;
  } catch (const std::exception& e) {
    Napi::Error::New(env, e.what()).ThrowAsJavaScriptException();
    return nullptr;
  }
}

const cr::Tensor& live(const Napi::CallbackInfo& info, TensorHandle* h, const char* what) {
  if (!h) throw Napi::TypeError::New(info.Env(), std::string("tensor.") + what + ": the tensor is disposed");
  return h->tensor();
}

Napi::Value shape_of(const Napi::CallbackInfo& info, TensorHandle* h) {
  const cr::Tensor& t = live(info, h, "shape");
  Napi::Array a = Napi::Array::New(info.Env(), t.shape.size());
  for (size_t i = 0; i < t.shape.size(); i++) a.Set(static_cast<uint32_t>(i), static_cast<double>(t.shape[i]));
  return a;
}

Napi::Value dtype_of(const Napi::CallbackInfo& info, TensorHandle* h) {
  return Napi::String::New(info.Env(), cr::dtype_name(live(info, h, "dtype").dtype));
}

Napi::Value layout_of(const Napi::CallbackInfo& info, TensorHandle* h) {
  return Napi::String::New(info.Env(), cr::layout_name(live(info, h, "layout").layout));
}

Napi::Value device_of(const Napi::CallbackInfo& info, TensorHandle* h) {
  return Napi::String::New(info.Env(), live(info, h, "device").device().str());
}

Napi::Value nbytes_of(const Napi::CallbackInfo& info, TensorHandle* h) {
  return Napi::Number::New(info.Env(), h ? static_cast<double>(h->tensor().nbytes()) : 0.0);
}

// Whether another live tensor (a view, an in-flight read) holds this tensor's storage: a
// writer in place must then assume the bytes are seen elsewhere.
Napi::Value storage_shared_of(const Napi::CallbackInfo& info, TensorHandle* h) {
  return Napi::Boolean::New(info.Env(), live(info, h, "storageShared").storage.use_count() > 1);
}

Napi::Value disposed_of(const Napi::CallbackInfo& info, TensorHandle* h) {
  return Napi::Boolean::New(info.Env(), h == nullptr);
}

Napi::Value read(const Napi::CallbackInfo& info, TensorHandle* h) {
  const cr::Tensor& t = live(info, h, "read");
  return to_typed_array(info.Env(), t, host_copy(t));
}

Napi::Value read_async(const Napi::CallbackInfo& info, TensorHandle* h) {
  const cr::Tensor& t = live(info, h, "readAsync");
  // The value is fixed at call time: the copy is queued now, in stream order, so an in-place
  // op issued after readAsync() (SGD, a fill, the next replay of a captured step) cannot
  // leak into the result.
  std::vector<uint8_t> raw(t.nbytes());
  std::function<void()> wait = cr::backend_for(t.device()).copy_to_host_async(t, raw.data());
  // raw's heap buffer moves into the job unchanged, so the pending copy's target stays valid.
  Napi::Env env = info.Env();
  auto* job = new ReadQueue::Job{
      t, std::move(raw), std::move(wait), Napi::Promise::Deferred::New(env), Napi::ThreadSafeFunction(), std::string()};
  job->done = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}),
                                            "cudnn-resnet:readAsync", 0, 1);
  Napi::Promise p = job->deferred.Promise();
  ReadQueue::push(job);
  return p;
}

// Frees the tensor and the native handle now; idempotent.
Napi::Value dispose(const Napi::CallbackInfo& info, TensorHandle* h) {
  if (h) {
    void* unwrapped = nullptr;
    napi_status st = napi_remove_wrap(info.Env(), info.This(), &unwrapped);
    if (st != napi_ok) throw Napi::Error::New(info.Env(), "tensor.dispose: could not detach the native tensor");
    delete h;
  }
  return info.Env().Undefined();
}

constexpr napi_property_attributes kAttr = napi_default;

}  // namespace

Napi::Function TensorHandle::Define(Napi::Env env) {
  const napi_property_descriptor props[] = {
      {"shape", nullptr, nullptr, call_member<shape_of>, nullptr, nullptr, kAttr, nullptr},
      {"dtype", nullptr, nullptr, call_member<dtype_of>, nullptr, nullptr, kAttr, nullptr},
      {"layout", nullptr, nullptr, call_member<layout_of>, nullptr, nullptr, kAttr, nullptr},
      {"device", nullptr, nullptr, call_member<device_of>, nullptr, nullptr, kAttr, nullptr},
      {"nbytes", nullptr, nullptr, call_member<nbytes_of>, nullptr, nullptr, kAttr, nullptr},
      {"disposed", nullptr, nullptr, call_member<disposed_of>, nullptr, nullptr, kAttr, nullptr},
      {"storageShared", nullptr, nullptr, call_member<storage_shared_of>, nullptr, nullptr, kAttr, nullptr},
      {"read", nullptr, call_member<read>, nullptr, nullptr, nullptr, kAttr, nullptr},
      {"readAsync", nullptr, call_member<read_async>, nullptr, nullptr, nullptr, kAttr, nullptr},
      {"dispose", nullptr, call_member<dispose>, nullptr, nullptr, nullptr, kAttr, nullptr},
  };
  napi_value cls = nullptr;
  napi_status st = napi_define_class(env, "NativeTensor", NAPI_AUTO_LENGTH, Construct, nullptr,
                                     sizeof(props) / sizeof(props[0]), props, &cls);
  NAPI_THROW_IF_FAILED(env, st, Napi::Function());
  Napi::Function ctor(env, cls);
  auto* data = new AddonData();
  data->ctor = Napi::Persistent(ctor);
  env.SetInstanceData<AddonData>(data);
  return ctor;
}

napi_value TensorHandle::Construct(napi_env env, napi_callback_info cbinfo) {
  napi_value self = nullptr;
  if (napi_get_cb_info(env, cbinfo, nullptr, nullptr, &self, nullptr) != napi_ok) return nullptr;
  if (!t_pending) {
    napi_throw_type_error(env, nullptr, "NativeTensor cannot be constructed directly; use the tensor functions");
    return nullptr;
  }
  auto* h = new TensorHandle(Napi::Env(env), *t_pending);
  // No napi_ref is asked for: Node keeps its own, which napi_remove_wrap (dispose) deletes.
  if (napi_wrap(env, self, h, Finalize, nullptr, nullptr) != napi_ok) {
    delete h;
    napi_throw_error(env, nullptr, "NativeTensor: could not wrap the native tensor");
    return nullptr;
  }
  return self;
}

void TensorHandle::Finalize(napi_env, void* data, void*) { delete static_cast<TensorHandle*>(data); }

Napi::Object TensorHandle::Wrap(Napi::Env env, cr::Tensor t) {
  AddonData* data = env.GetInstanceData<AddonData>();
  t_pending = &t;
  Napi::Object obj;
  try {
    obj = data->ctor.New({});
  } catch (...) {
    t_pending = nullptr;
    throw;
  }
  t_pending = nullptr;
  obj.TypeTag(&kTensorTag);
  return obj;
}

TensorHandle* TensorHandle::Unwrap(const Napi::Value& v, bool* disposed) {
  if (disposed) *disposed = false;
  if (!v.IsObject()) return nullptr;
  Napi::Object o = v.As<Napi::Object>();
  if (!o.CheckTypeTag(&kTensorTag)) return nullptr;
  void* p = nullptr;
  // A tagged object without a wrap is a disposed handle (dispose() removed it).
  if (napi_unwrap(v.Env(), o, &p) != napi_ok || p == nullptr) {
    if (disposed) *disposed = true;
    return nullptr;
  }
  return static_cast<TensorHandle*>(p);
}

// V8 hears of the CPU backend's memory so that a program that drops tensors without
// dispose() gets them collected as memory grows. It hears of what the backend holds from the
// allocator (tensors alive and freed blocks kept for reuse), not of each tensor: a training
// step that reuses the same blocks then reports no growth, where reports per tensor told V8
// of every activation afresh and it ran a full collection per 64 MB of them (5-6 per
// ResNet-56 step at batch 128, 8% of the step's CPU time on V8's threads). One count per JS
// thread, which is one per environment.
namespace {
void sync_external_memory(napi_env env) {
  thread_local int64_t reported = 0;
  const int64_t held = cr::cpu_host_bytes();
  if (held == reported) return;
  int64_t total = 0;
  if (napi_adjust_external_memory(env, held - reported, &total) == napi_ok) reported = held;
}
}  // namespace

TensorHandle::TensorHandle(Napi::Env env, cr::Tensor t) : tensor_(std::move(t)), env_(env) {
  g_live++;
  if (tensor_.device().type == cr::DeviceType::CPU) sync_external_memory(env_);
}

TensorHandle::~TensorHandle() {
  g_live--;
  const bool cpu = tensor_.device().type == cr::DeviceType::CPU;
  tensor_ = cr::Tensor();  // its storage goes back to the allocator first
  if (cpu) sync_external_memory(env_);
}

int64_t TensorHandle::live_count() { return g_live.load(); }

}  // namespace crjs
