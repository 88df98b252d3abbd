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

}  // namespace

Napi::Function TensorHandle::Define(Napi::Env env) {
  Napi::Function ctor = DefineClass(
      env, "NativeTensor",
      {
          InstanceAccessor<&TensorHandle::Shape>("shape"),
          InstanceAccessor<&TensorHandle::DType>("dtype"),
          InstanceAccessor<&TensorHandle::Layout>("layout"),
          InstanceAccessor<&TensorHandle::DeviceName>("device"),
          InstanceAccessor<&TensorHandle::NBytes>("nbytes"),
          InstanceAccessor<&TensorHandle::Disposed>("disposed"),
          InstanceMethod<&TensorHandle::Read>("read"),
          InstanceMethod<&TensorHandle::ReadAsync>("readAsync"),
          InstanceMethod<&TensorHandle::Dispose>("dispose"),
      });
  auto* data = new AddonData();
  data->ctor = Napi::Persistent(ctor);
  env.SetInstanceData<AddonData>(data);
  return ctor;
}

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

TensorHandle* TensorHandle::Unwrap(const Napi::Value& v) {
  if (!v.IsObject()) return nullptr;
  Napi::Object o = v.As<Napi::Object>();
  if (!o.CheckTypeTag(&kTensorTag)) return nullptr;
  return Napi::ObjectWrap<TensorHandle>::Unwrap(o);
}

TensorHandle::TensorHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorHandle>(info) {
  if (!t_pending) {
    Napi::TypeError::New(info.Env(), "NativeTensor cannot be constructed directly; use the tensor functions")
        .ThrowAsJavaScriptException();
    disposed_ = true;
    return;
  }
  tensor_ = *t_pending;
  g_live++;
  if (tensor_.device().type == cr::DeviceType::CPU) {
    external_bytes_ = static_cast<int64_t>(tensor_.nbytes());
    Napi::MemoryManagement::AdjustExternalMemory(info.Env(), external_bytes_);
  }
}

TensorHandle::~TensorHandle() = default;

void TensorHandle::Release(Napi::Env env) {
  if (disposed_) return;
  disposed_ = true;
  g_live--;
  tensor_ = cr::Tensor();  // drops this handle's share of the storage
  if (external_bytes_) {
    Napi::MemoryManagement::AdjustExternalMemory(env, -external_bytes_);
    external_bytes_ = 0;
  }
}

void TensorHandle::Finalize(Napi::Env env) { Release(env); }

int64_t TensorHandle::live_count() { return g_live.load(); }

static void throw_if_disposed(const Napi::CallbackInfo& info, bool disposed, const char* what) {
  if (disposed) throw Napi::TypeError::New(info.Env(), std::string("tensor.") + what + ": the tensor is disposed");
}

Napi::Value TensorHandle::Shape(const Napi::CallbackInfo& info) {
  throw_if_disposed(info, disposed_, "shape");
  Napi::Array a = Napi::Array::New(info.Env(), tensor_.shape.size());
  for (size_t i = 0; i < tensor_.shape.size(); i++) a.Set(static_cast<uint32_t>(i), static_cast<double>(tensor_.shape[i]));
  return a;
}

Napi::Value TensorHandle::DType(const Napi::CallbackInfo& info) {
  throw_if_disposed(info, disposed_, "dtype");
  return Napi::String::New(info.Env(), cr::dtype_name(tensor_.dtype));
}

Napi::Value TensorHandle::Layout(const Napi::CallbackInfo& info) {
  throw_if_disposed(info, disposed_, "layout");
  return Napi::String::New(info.Env(), cr::layout_name(tensor_.layout));
}

Napi::Value TensorHandle::DeviceName(const Napi::CallbackInfo& info) {
  throw_if_disposed(info, disposed_, "device");
  return Napi::String::New(info.Env(), tensor_.device().str());
}

Napi::Value TensorHandle::NBytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), disposed_ ? 0.0 : static_cast<double>(tensor_.nbytes()));
}

Napi::Value TensorHandle::Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), disposed_); }

Napi::Value TensorHandle::Read(const Napi::CallbackInfo& info) {
  throw_if_disposed(info, disposed_, "read");
  try {
    return to_typed_array(info.Env(), tensor_, host_copy(tensor_));
  } catch (const cr::OpError& e) {
    throw to_js_error(info.Env(), e);
  }
}

Napi::Value TensorHandle::ReadAsync(const Napi::CallbackInfo& info) {
  throw_if_disposed(info, disposed_, "readAsync");
  // The value is fixed at call time: the copy is queued now, in stream order, so an in-place
  // op issued after readAsync() (SGD, a fill, the next replay of a captured step) cannot
  // leak into the result.
  std::vector<uint8_t> raw(tensor_.nbytes());
  std::function<void()> wait;
  try {
    wait = cr::backend_for(tensor_.device()).copy_to_host_async(tensor_, raw.data());
  } catch (const cr::OpError& e) {
    throw to_js_error(info.Env(), e);
  }
  // raw's heap buffer moves into the job unchanged, so the pending copy's target stays valid.
  Napi::Env env = info.Env();
  auto* job = new ReadQueue::Job{tensor_, std::move(raw), std::move(wait), Napi::Promise::Deferred::New(env),
                                 Napi::ThreadSafeFunction(), std::string()};
  job->done = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}),
                                            "cudnn-resnet:readAsync", 0, 1);
  Napi::Promise p = job->deferred.Promise();
  ReadQueue::push(job);
  return p;
}

Napi::Value TensorHandle::Dispose(const Napi::CallbackInfo& info) {
  Release(info.Env());
  return info.Env().Undefined();
}

}  // namespace crjs
