// A tiny persistent thread pool: parallel_for splits [0, n) into contiguous chunks, one per
// worker, and runs them on the calling thread plus (hardware threads - 1) workers.
#pragma once
#include <cstdint>
#include <functional>

namespace cr {

int cpu_threads();
// fn(begin, end) over disjoint ranges; small n runs inline. Exceptions in fn propagate.
void parallel_for(int64_t n, int64_t min_chunk, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace cr
