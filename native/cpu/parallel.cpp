#include "parallel.h"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include <atomic>
#include <chrono>
#include <ctime>

#if defined(__linux__)
#include <pthread.h>
#endif

#include "../core/env.h"

namespace cr {

namespace {

// Set while a thread runs a parallel_for chunk: nested regions then run inline instead of
// waiting on a pool that is busy with their parent.
thread_local bool t_in_region = false;

struct RegionFlag {
  RegionFlag() { t_in_region = true; }
  ~RegionFlag() { t_in_region = false; }
};

class Pool {
 public:
  explicit Pool(int workers) {
    for (int i = 0; i < workers; i++) threads_.emplace_back([this, i] { loop(i); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> g(m_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  int size() const { return static_cast<int>(threads_.size()); }

  double workers_cpu_seconds() {
    double s = 0;
#if defined(__linux__)
    for (auto& t : threads_) {
      clockid_t id;
      timespec ts{};
      if (pthread_getcpuclockid(t.native_handle(), &id) == 0 && clock_gettime(id, &ts) == 0)
        s += ts.tv_sec + ts.tv_nsec * 1e-9;
    }
#endif
    return s;
  }

  // Runs task(k) for k in [0, tasks) with the caller taking k = 0.
  void run(int tasks, const std::function<void(int)>& task) {
    std::unique_lock<std::mutex> lk(run_m_);  // one parallel region at a time
    {
      std::lock_guard<std::mutex> g(m_);
      task_ = &task;
      tasks_ = tasks;
      pending_ = tasks - 1;
      error_ = nullptr;
      generation_++;
      published_.store(generation_, std::memory_order_release);
      left_.store(tasks - 1, std::memory_order_release);
    }
    cv_.notify_all();
    try {
      RegionFlag flag;
      task(0);
    } catch (...) {
      std::lock_guard<std::mutex> g(m_);
      if (!error_) error_ = std::current_exception();
    }
    spin_until([this] { return left_.load(std::memory_order_acquire) == 0; });
    std::unique_lock<std::mutex> g(m_);
    done_cv_.wait(g, [this] { return pending_ == 0; });
    task_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void loop(int worker) {
#if defined(__linux__)
    // Named for `top -H` and for bench/ops_cpu.ts, which bills the pool's CPU time to ops
    // apart from V8's threads.
    pthread_setname_np(pthread_self(), "cr-cpu-pool");
#endif
    uint64_t seen = 0;
    for (;;) {
      const std::function<void(int)>* task;
      spin_until([&] { return published_.load(std::memory_order_acquire) != seen; });
      {
        std::unique_lock<std::mutex> g(m_);
        cv_.wait(g, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        if (worker + 1 >= tasks_) continue;
        task = task_;
      }
      try {
        RegionFlag flag;
        (*task)(worker + 1);
      } catch (...) {
        std::lock_guard<std::mutex> g(m_);
        if (!error_) error_ = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> g(m_);
        left_.fetch_sub(1, std::memory_order_release);
        if (--pending_ == 0) done_cv_.notify_all();
      }
    }
  }

  // A training step runs hundreds of parallel regions a few microseconds apart. Waking a
  // thread blocked on a condition variable takes tens of microseconds and more on a VM, where
  // the vCPU may have been descheduled, so both sides first watch for each other for a short
  // while (the next region, the last worker's end), and only then block.
  template <typename Ready>
  static void spin_until(Ready&& ready) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(kSpinMicroseconds);
    for (int i = 0; !ready(); i++) {
      if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) return;
      std::this_thread::yield();
    }
  }
  static constexpr int kSpinMicroseconds = 200;

  std::atomic<uint64_t> published_{0};  // generation_, readable without the lock
  std::atomic<int> left_{0};            // workers of the current region not yet done
  std::vector<std::thread> threads_;
  std::mutex m_, run_m_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(int)>* task_ = nullptr;
  int tasks_ = 0, pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};

std::atomic<Pool*> g_pool{nullptr};

Pool& pool() {
  // Leaked on purpose: joining threads from a static destructor at process exit can
  // deadlock with Node's own teardown.
  static Pool* p = [] {
    Pool* made = new Pool(std::max(1, cpu_threads() - 1));
    g_pool.store(made);
    return made;
  }();
  return *p;
}

}  // namespace

int cpu_threads() {
  static int n = [] {
    // CUDNN_RESNET_CPU_THREADS caps the pool; 1 makes training bitwise reproducible (with
    // several threads, per-thread partial sums, e.g. in conv backward-filter, vary by schedule).
    if (const int v = env::cpu_threads_override(); v > 0) return v;
    unsigned h = std::thread::hardware_concurrency();
    return static_cast<int>(std::clamp(h == 0 ? 1u : h, 1u, 64u));
  }();
  return n;
}

void parallel_for(int64_t n, int64_t min_chunk, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  int64_t chunks =
      std::min<int64_t>(cpu_threads(), (n + std::max<int64_t>(min_chunk, 1) - 1) / std::max<int64_t>(min_chunk, 1));
  if (chunks <= 1 || t_in_region) {
    fn(0, n);
    return;
  }
  int64_t per = (n + chunks - 1) / chunks;
  pool().run(static_cast<int>(chunks), [&](int k) {
    int64_t b = k * per, e = std::min(n, b + per);
    if (b < e) fn(b, e);
  });
}

ThreadCpuSeconds thread_cpu_seconds() {
  ThreadCpuSeconds r;
  timespec ts{};
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0) r.caller = ts.tv_sec + ts.tv_nsec * 1e-9;
  if (Pool* p = g_pool.load()) r.pool = p->workers_cpu_seconds();
  return r;
}

}  // namespace cr
