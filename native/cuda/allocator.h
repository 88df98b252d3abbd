// Caching device allocator, one per GPU. cudaMalloc/cudaFree synchronise the device and
// cost tens of microseconds, so blocks are kept after a tensor dies and handed to the next
// request of a similar size. All work runs on the device's single stream, so a block freed
// by the host may be reused by the next op without an event: the stream orders the old
// reader before the new writer.
//
// Pools: every block belongs to one pool. Pool 0 is the default; a CUDA-graph capture can
// create a private pool and route allocations to it (push_pool/pop_pool) so that memory a
// graph uses is never handed to eager ops between replays. Capture itself lives elsewhere.
//
// Plain C++: the three device calls it makes come through a DeviceMemory table, the real one
// from cuda_backend.cu, a scripted one in the decision tests.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace cr {
namespace cuda {

using PoolId = uint64_t;
constexpr PoolId kDefaultPool = 0;

struct DeviceMemory {
  // cudaMalloc on `device`; during a capture (`capturing`) with the capture mode relaxed for
  // this one call. nullptr on failure, the error cleared.
  void* (*allocate)(int device, size_t bytes, bool capturing);
  // cudaFree; false when the driver refuses (the error cleared).
  bool (*free)(int device, void* p);
  void (*mem_info)(int device, size_t* free_bytes, size_t* total_bytes);
};
// The CUDA runtime's (cuda_backend.cu).
const DeviceMemory& cuda_device_memory();

struct AllocatorStats {
  uint64_t allocated = 0, reserved = 0, peak_allocated = 0, peak_reserved = 0;
  uint64_t cached_blocks = 0, malloc_calls = 0, cache_hits = 0, oom_retries = 0;
};

class CachingAllocator {
 public:
  CachingAllocator(int device, const DeviceMemory& mem) : device_(device), mem_(mem) {}
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // A block of at least `bytes`; throws OpError OutOfMemory (ERR_CUDA_OOM) after freeing the
  // cache and retrying once. `op` and `what` name the caller in that message.
  void* allocate(size_t bytes, const char* op, const std::string& what = "");
  // Returns a block to its pool's cache. Never calls CUDA, so it is safe from finalizers,
  // worker threads and process exit.
  void release(void* ptr);
  // Releases a block and gives it straight back to the driver (a search's scratch buffer,
  // too large to keep cached). Synchronises; not during a capture.
  void release_and_free(void* ptr);
  // cudaFree every cached block of the default pool and of pools already released.
  void empty_cache();
  AllocatorStats stats() const;

  // ---- private pools (for graph capture) ----
  PoolId create_pool();
  void push_pool(PoolId id);  // allocations made on this device now come from `id`
  void pop_pool();
  // While a pool is pushed (a capture is open), released blocks of the default pool and of
  // retired pools join it: the graph being recorded may reference them. Blocks of another
  // live graph's pool stay there (two live graphs must never share memory). cudaMalloc is
  // allowed then; the OOM retry (which calls cudaFree) is not.
  // The pool is retired (its graph is gone): its cached blocks are freed now; its live ones,
  // when released, join the default pool (no graph can read them any more).
  void release_pool(PoolId id);

  // Size classes: 512-byte steps below 1 MiB, 2 MiB steps above (large activations are
  // reused across steps of equal shape, so a coarse class wastes little and hits often).
  static size_t round_size(size_t bytes);
  // Cached (free) bytes held by pool `id`; 0 for an unknown pool. For tests and reports.
  size_t cached_bytes(PoolId id) const;

 private:
  struct Block {
    size_t size;
    PoolId pool;
  };
  struct Pool {
    std::multimap<size_t, void*> free;  // size -> block
    size_t live = 0;                    // blocks handed out and not yet released
    bool retired = false;
  };
  void* malloc_locked(size_t size);
  void release_locked(void* ptr);
  void free_cached_locked(bool include_default);  // retired pools, and the default one if asked
  PoolId active_locked() const { return stack_.empty() ? kDefaultPool : stack_.back(); }

  int device_;
  const DeviceMemory& mem_;
  mutable std::mutex mu_;
  std::unordered_map<void*, Block> live_;
  std::map<PoolId, Pool> pools_{{kDefaultPool, Pool{}}};
  std::vector<PoolId> stack_;
  PoolId next_pool_ = 1;
  AllocatorStats st_;
};

}  // namespace cuda
}  // namespace cr
