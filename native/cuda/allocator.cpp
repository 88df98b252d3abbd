#include "allocator.h"

#include <cstdio>

#include "../core/errors.h"

namespace cr {
namespace cuda {

namespace {
constexpr size_t kSmall = size_t{1} << 20;
std::string mib(uint64_t b) {
  char buf[64];
  snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(b) / (1024.0 * 1024.0));
  return buf;
}
}  // namespace

size_t CachingAllocator::round_size(size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (bytes < kSmall) return (bytes + 511) & ~size_t{511};
  const size_t step = size_t{2} << 20;
  return (bytes + step - 1) / step * step;
}

void* CachingAllocator::malloc_locked(size_t size) {
  // Inside a graph capture (begun in thread-local mode, which refuses "unsafe" calls such as
  // cudaMalloc) the table relaxes the mode for this one call: cudaMalloc enqueues nothing on
  // the captured stream (cudaThreadExchangeStreamCaptureMode's documented use).
  void* p = mem_.allocate(device_, size, !stack_.empty());
  if (!p) return nullptr;
  st_.malloc_calls++;
  st_.reserved += size;
  if (st_.reserved > st_.peak_reserved) st_.peak_reserved = st_.reserved;
  return p;
}

void* CachingAllocator::allocate(size_t bytes, const char* op, const std::string& what) {
  size_t size = round_size(bytes);
  std::lock_guard<std::mutex> lock(mu_);
  PoolId pid = active_locked();
  Pool& pool = pools_[pid];
  void* p = nullptr;
  // Best fit within the class; a much larger block is left for a request that needs it.
  auto it = pool.free.lower_bound(size);
  if (it != pool.free.end() && it->first <= size + size / 4 + (size < kSmall ? 0 : (size_t{2} << 20))) {
    p = it->second;
    size = it->first;
    pool.free.erase(it);
    st_.cache_hits++;
    st_.cached_blocks--;
  } else {
    p = malloc_locked(size);
    if (!p && stack_.empty()) {
      // Out of memory: give the cache back to the driver and try once more. Not during a
      // capture: cudaFree synchronises the device, which a capture forbids.
      st_.oom_retries++;
      free_cached_locked(true);
      p = malloc_locked(size);
    }
    if (!p) {
      size_t free_b = 0, total_b = 0;
      mem_.mem_info(device_, &free_b, &total_b);
      throw OpError(ErrorKind::OutOfMemory,
                    std::string(op) + ": cuda:" + std::to_string(device_) + " is out of memory: tried to allocate " +
                        mib(size) + (what.empty() ? "" : " for " + what) + "; " + mib(st_.allocated) +
                        " is in use by tensors, " + mib(st_.reserved) + " reserved by this process, " + mib(free_b) +
                        " free of " + mib(total_b) + " on the device",
                    "ERR_CUDA_OOM");
    }
  }
  live_[p] = Block{size, pid};
  pools_[pid].live++;
  st_.allocated += size;
  if (st_.allocated > st_.peak_allocated) st_.peak_allocated = st_.allocated;
  return p;
}

void CachingAllocator::release(void* ptr) {
  std::lock_guard<std::mutex> lock(mu_);
  release_locked(ptr);
}

void CachingAllocator::release_locked(void* ptr) {
  auto it = live_.find(ptr);
  if (it == live_.end()) return;
  Block b = it->second;
  live_.erase(it);
  st_.allocated -= b.size;
  auto owner = pools_.find(b.pool);
  bool free_for_all = b.pool == kDefaultPool || owner == pools_.end();
  if (owner != pools_.end()) {
    owner->second.live--;
    if (owner->second.retired) {
      free_for_all = true;  // its graph is destroyed: no graph reads it any more
      if (owner->second.live == 0 && owner->second.free.empty()) pools_.erase(owner);
    }
  }
  if (free_for_all) b.pool = kDefaultPool;
  // A default-pool block freed while a capture is open may already be referenced by the
  // graph being recorded (read earlier in the step, then dropped): it joins the capture's
  // pool, so it is never handed to eager work while that graph can still replay. A block of
  // another live graph's pool stays with that graph.
  if (!stack_.empty() && free_for_all) b.pool = stack_.back();
  pools_[b.pool].free.emplace(b.size, ptr);
  st_.cached_blocks++;
}

void CachingAllocator::release_and_free(void* ptr) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(ptr);
  if (it == live_.end()) return;
  Block b = it->second;
  auto owner = pools_.find(b.pool);
  if (!stack_.empty() || !mem_.free(device_, ptr)) {
    release_locked(ptr);  // cannot free now: cached like any released block
    return;
  }
  live_.erase(it);
  st_.allocated -= b.size;
  st_.reserved -= b.size;
  if (owner != pools_.end() && --owner->second.live == 0 && owner->second.retired && owner->second.free.empty())
    pools_.erase(owner);
}

void CachingAllocator::free_cached_locked(bool include_default) {
  // cudaFree synchronises the device, so no queued kernel can still be using a block.
  for (auto& kv : pools_) {
    Pool& pool = kv.second;
    if (kv.first == kDefaultPool ? !include_default : !pool.retired) continue;  // a live graph pool keeps its memory
    // A block cudaFree refuses (e.g. a capture is open elsewhere in this thread) stays
    // cached and counted: dropping it would leak it and misstate `reserved`.
    for (auto it = pool.free.begin(); it != pool.free.end();) {
      if (!mem_.free(device_, it->second)) {
        ++it;
        continue;
      }
      st_.reserved -= it->first;
      st_.cached_blocks--;
      it = pool.free.erase(it);
    }
  }
  // A retired pool with nothing cached and nothing live is done with.
  for (auto it = pools_.begin(); it != pools_.end();)
    it = it->second.retired && it->second.live == 0 && it->second.free.empty() ? pools_.erase(it) : std::next(it);
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mu_);
  free_cached_locked(true);
}

size_t CachingAllocator::cached_bytes(PoolId id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pools_.find(id);
  size_t n = 0;
  if (it != pools_.end())
    for (const auto& kv : it->second.free) n += kv.first;
  return n;
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return st_;
}

PoolId CachingAllocator::create_pool() {
  std::lock_guard<std::mutex> lock(mu_);
  PoolId id = next_pool_++;
  pools_[id];
  return id;
}

void CachingAllocator::push_pool(PoolId id) {
  std::lock_guard<std::mutex> lock(mu_);
  stack_.push_back(id);
}

void CachingAllocator::pop_pool() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!stack_.empty()) stack_.pop_back();
}

void CachingAllocator::release_pool(PoolId id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pools_.find(id);
  if (it == pools_.end() || id == kDefaultPool) return;
  it->second.retired = true;
  free_cached_locked(false);  // the default pool's cache stays: eager steps keep their blocks
}

}  // namespace cuda
}  // namespace cr
