// A tiny persistent thread pool: parallel_for splits [0, n) into contiguous chunks, one per
// worker, and runs them on the calling thread plus (hardware threads - 1) workers.
#pragma once
#include <algorithm>
#include <cstdint>
#include <functional>
#include <vector>

namespace cr {

int cpu_threads();
// fn(begin, end) over disjoint ranges; small n runs inline. Exceptions in fn propagate.
void parallel_for(int64_t n, int64_t min_chunk, const std::function<void(int64_t, int64_t)>& fn);

// CPU seconds of the calling thread and, summed, of the pool's workers (0 before the pool
// first ran anything), for profiling: the process clock also counts the runtime's threads.
struct ThreadCpuSeconds {
  double caller = 0;
  double pool = 0;
};
ThreadCpuSeconds thread_cpu_seconds();

// fn(t, begin, end) over the elements of every tensor in `tensors`, in pieces of 32K spread
// over the pool together: a model's parameters are many small tensors and a few large ones,
// so one task per tensor would leave threads idle.
template <class Tensors, class Fn>
void parallel_over_elements(const Tensors& tensors, Fn&& fn) {
  constexpr int64_t kPiece = int64_t{1} << 15;
  struct Piece {
    size_t t;
    int64_t begin, end;
  };
  std::vector<Piece> pieces;
  for (size_t t = 0; t < tensors.size(); t++)
    for (int64_t b = 0, n = tensors[t].numel(); b < n; b += kPiece) pieces.push_back({t, b, std::min(n, b + kPiece)});
  parallel_for(static_cast<int64_t>(pieces.size()), 1, [&](int64_t lo, int64_t hi) {
    for (int64_t k = lo; k < hi; k++) fn(pieces[k].t, pieces[k].begin, pieces[k].end);
  });
}

}  // namespace cr
