// The caching allocator's pool bookkeeping (native/cuda/allocator.cpp) over a scripted
// device memory: cudaMalloc hands out fresh addresses until a limit, cudaFree is counted.
#include <cstdint>
#include <map>

#include "../../../../native/core/errors.h"
#include "../../../../native/cuda/allocator.h"
#include "harness.h"

using namespace cr::cuda;

namespace {

struct FakeMemory {
  uintptr_t next = 0x10000;
  size_t in_use = 0, limit = size_t{1} << 30;
  int mallocs = 0, frees = 0, mallocs_while_capturing = 0;
  std::map<uintptr_t, size_t> live;
};
FakeMemory g_mem;

const DeviceMemory& fake_memory() {
  static const DeviceMemory m{
      [](int, size_t bytes, bool capturing) -> void* {
        if (g_mem.in_use + bytes > g_mem.limit) return nullptr;
        g_mem.mallocs++;
        if (capturing) g_mem.mallocs_while_capturing++;
        g_mem.in_use += bytes;
        uintptr_t p = g_mem.next;
        g_mem.next += bytes + 4096;
        g_mem.live[p] = bytes;
        return reinterpret_cast<void*>(p);
      },
      [](int, void* p) {
        g_mem.frees++;
        g_mem.in_use -= g_mem.live[reinterpret_cast<uintptr_t>(p)];
        g_mem.live.erase(reinterpret_cast<uintptr_t>(p));
        return true;
      },
      [](int, size_t* f, size_t* t) {
        *t = g_mem.limit;
        *f = g_mem.limit - g_mem.in_use;
      },
  };
  return m;
}

constexpr size_t kBlock = 4096;

}  // namespace

// Item 5: two live graphs must never share memory. A block of graph A's pool released while
// graph B is being captured stays A's; B gets memory of its own.
TEST(allocator_two_live_graphs_do_not_share) {
  g_mem = FakeMemory();
  CachingAllocator alloc(0, fake_memory());
  PoolId a = alloc.create_pool();
  alloc.push_pool(a);
  void* pa = alloc.allocate(kBlock, "test");  // graph A's output, alive after A's capture
  alloc.pop_pool();
  PoolId b = alloc.create_pool();
  alloc.push_pool(b);  // capturing B
  alloc.release(pa);   // A's output dropped during B's step
  void* pb = alloc.allocate(kBlock, "test");
  CHECK(pb != pa);
  alloc.pop_pool();
  CHECK_EQ(alloc.cached_bytes(a), CachingAllocator::round_size(kBlock));
  CHECK_EQ(alloc.cached_bytes(b), size_t{0});
}

// A default-pool block released during a capture may be read by the graph being recorded:
// it joins the capture's pool and is not handed to eager work afterwards.
TEST(allocator_default_block_joins_capture) {
  g_mem = FakeMemory();
  CachingAllocator alloc(0, fake_memory());
  void* p = alloc.allocate(kBlock, "test");
  PoolId g = alloc.create_pool();
  alloc.push_pool(g);
  alloc.release(p);
  alloc.pop_pool();
  CHECK_EQ(alloc.cached_bytes(g), CachingAllocator::round_size(kBlock));
  void* q = alloc.allocate(kBlock, "test");  // eager
  CHECK(q != p);
}

// A retired pool (its graph destroyed) hands its late blocks on: to the default pool, or to
// an open capture's pool; the retired pool is erased once empty.
TEST(allocator_retired_pool_blocks_move_on) {
  g_mem = FakeMemory();
  CachingAllocator alloc(0, fake_memory());
  PoolId r = alloc.create_pool();
  alloc.push_pool(r);
  void* p1 = alloc.allocate(kBlock, "test");
  void* p2 = alloc.allocate(kBlock, "test");
  alloc.pop_pool();
  alloc.release_pool(r);  // graph destroyed while p1, p2 are still alive
  alloc.release(p1);
  CHECK_EQ(alloc.cached_bytes(kDefaultPool), CachingAllocator::round_size(kBlock));
  PoolId c = alloc.create_pool();
  alloc.push_pool(c);
  alloc.release(p2);
  CHECK_EQ(alloc.cached_bytes(c), CachingAllocator::round_size(kBlock));
  CHECK(alloc.allocate(kBlock, "test") == p2);  // reused inside the capture that owns it now
  alloc.pop_pool();
  CHECK_EQ(alloc.cached_bytes(r), size_t{0});
}

// Out of memory during a capture: no cudaFree (it would synchronise), an OOM error instead;
// outside one, the cache goes back to the driver and the allocation is retried.
TEST(allocator_oom_retry_only_outside_capture) {
  g_mem = FakeMemory();
  g_mem.limit = 3 * kBlock;
  CachingAllocator alloc(0, fake_memory());
  void* p = alloc.allocate(2 * kBlock, "test");
  alloc.release(p);  // cached in the default pool, holding 2 of the 3 blocks
  PoolId g = alloc.create_pool();
  alloc.push_pool(g);
  CHECK_THROWS_CODE(alloc.allocate(2 * kBlock + 1, "test"), std::string("ERR_CUDA_OOM"));
  CHECK_EQ(g_mem.frees, 0);
  alloc.pop_pool();
  void* q = alloc.allocate(2 * kBlock + 1, "test");
  CHECK(q != nullptr);
  CHECK_EQ(g_mem.frees, 1);
  CHECK_EQ(alloc.stats().oom_retries, uint64_t{1});
}

// empty_cache frees the default pool's and retired pools' cached blocks; a live graph's
// pool keeps its memory.
TEST(allocator_empty_cache_keeps_live_graph_pools) {
  g_mem = FakeMemory();
  CachingAllocator alloc(0, fake_memory());
  PoolId g = alloc.create_pool();
  alloc.push_pool(g);
  void* pg = alloc.allocate(kBlock, "test");
  alloc.release(pg);
  alloc.pop_pool();
  void* pd = alloc.allocate(kBlock, "test");
  alloc.release(pd);
  alloc.empty_cache();
  CHECK_EQ(alloc.cached_bytes(g), CachingAllocator::round_size(kBlock));
  CHECK_EQ(alloc.cached_bytes(kDefaultPool), size_t{0});
  CHECK_EQ(g_mem.frees, 1);
}

// A search's scratch buffer goes straight back to the driver, except during a capture.
TEST(allocator_release_and_free) {
  g_mem = FakeMemory();
  CachingAllocator alloc(0, fake_memory());
  void* p = alloc.allocate(64 * kBlock, "test");
  alloc.release_and_free(p);
  CHECK_EQ(g_mem.frees, 1);
  CHECK_EQ(alloc.stats().reserved, uint64_t{0});
  CHECK_EQ(alloc.stats().allocated, uint64_t{0});
}
