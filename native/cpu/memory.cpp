// Allocation and host copies for the CPU backend (dtype and layout conversions: convert.cpp).
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>

#include "../core/errors.h"
#include "cpu_backend.h"

namespace cr {

namespace {

// Training allocates the same sizes every step. Large blocks come from mmap and return to
// the kernel on free, so each step would page-fault its activations in afresh (thousands of
// faults per 8 MB output); keeping freed blocks by exact size avoids that. Bounded, so a
// change of shapes cannot pin unbounded memory.
class HostBlockCache {
 public:
  static constexpr size_t kMaxCachedBytes = size_t{1} << 30;
  static constexpr size_t kMinCachedBlock = size_t{1} << 16;  // small ones: malloc is fine

  static size_t rounded(size_t bytes) {
    if (bytes < kMinCachedBlock) return bytes == 0 ? 64 : ((bytes + 63) / 64) * 64;
    return ((bytes + 4095) / 4096) * 4096;
  }

  void* take(size_t alloc) {
    if (alloc >= kMinCachedBlock) {
      std::lock_guard<std::mutex> g(m_);
      auto it = free_.find(alloc);
      if (it != free_.end()) {
        void* p = it->second;
        free_.erase(it);
        cached_ -= alloc;
        return p;
      }
    }
    void* p = std::aligned_alloc(64, alloc);
    if (!p && alloc >= kMinCachedBlock) {  // memory pressure: give the cache back, retry once
      release_all();
      p = std::aligned_alloc(64, alloc);
    }
    if (p) held_ += static_cast<int64_t>(alloc);
    return p;
  }

  void give(void* p, size_t alloc) {
    if (alloc >= kMinCachedBlock) {
      std::lock_guard<std::mutex> g(m_);
      if (cached_ + alloc <= kMaxCachedBytes) {
        free_.emplace(alloc, p);
        cached_ += alloc;
        return;
      }
    }
    std::free(p);
    held_ -= static_cast<int64_t>(alloc);
  }

  void release_all() {
    std::lock_guard<std::mutex> g(m_);
    for (auto& kv : free_) {
      std::free(kv.second);
      held_ -= static_cast<int64_t>(kv.first);
    }
    free_.clear();
    cached_ = 0;
  }

  int64_t held() const { return held_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> held_{0};  // from the C allocator: blocks in use and cached
  std::mutex m_;
  std::multimap<size_t, void*> free_;
  size_t cached_ = 0;
};

HostBlockCache& host_cache() {
  static HostBlockCache* c = new HostBlockCache();  // leaked: storages may die at exit
  return *c;
}

}  // namespace

int64_t cpu_host_bytes() { return host_cache().held(); }

Tensor CpuBackend::empty(const Shape& shape, DType dtype, Layout layout) {
  Tensor t;
  t.shape = shape;
  t.dtype = dtype;
  t.layout = shape.size() == 4 ? layout : Layout::NCHW;
  size_t bytes = t.nbytes();
  // 64-byte alignment for the GEMM's vector loads; never a zero-size allocation.
  size_t alloc = HostBlockCache::rounded(bytes);
  void* p = host_cache().take(alloc);
  if (!p)
    throw OpError(ErrorKind::OutOfMemory,
                  "cpu: out of memory allocating " + std::to_string(bytes) + " bytes for " + t.describe(),
                  "ERR_CPU_OOM");
  t.storage = std::make_shared<Storage>(p, bytes, Device{DeviceType::CPU, 0},
                                        [alloc](void* q, size_t) { host_cache().give(q, alloc); });
  return t;
}

void CpuBackend::copy_from_host_(const Tensor& dst, const void* src) { std::memcpy(dst.raw(), src, dst.nbytes()); }
void CpuBackend::copy_to_host(const Tensor& src, void* dst) { std::memcpy(dst, src.raw(), src.nbytes()); }
std::function<void()> CpuBackend::copy_to_host_async(const Tensor& src, void* dst) {
  copy_to_host(src, dst);  // CPU ops are complete when they return: nothing to wait for
  return [] {};
}
void CpuBackend::copy_(const Tensor& dst, const Tensor& src) { std::memcpy(dst.raw(), src.raw(), src.nbytes()); }
void CpuBackend::synchronize() {}  // CPU ops complete before they return

}  // namespace cr
