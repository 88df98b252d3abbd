// The convolution algorithm search (native/cuda/policy/conv.cpp) against the scripted cuDNN.
#include <cstdint>

#include "../../../../native/core/errors.h"
#include "../../../../native/cuda/policy/conv.h"
#include "fake_cudnn.h"
#include "harness.h"

using namespace cr::cuda;
using namespace cr::dnn;
using conv::Pass;

namespace {

constexpr size_t MiB = size_t{1} << 20;

// A device with plenty of memory; the workspace grows to exactly what is asked.
struct FakeDevice : conv::Device {
  bool capture = false;
  size_t ws = 0, free = size_t{64} << 30;
  bool grow_oom = false;  // workspace() throws OutOfMemory
  int empties = 0, scratch_live = 0;
  size_t scratch_peak = 0;
  char block[64];
  int index() const override { return 0; }
  bool capturing() const override { return capture; }
  size_t workspace_bytes() const override { return ws; }
  void* workspace(size_t bytes) override {
    if (bytes > ws) {
      if (grow_oom) throw cr::OpError(cr::ErrorKind::OutOfMemory, "fake: out of memory", "ERR_CUDA_OOM");
      ws = bytes;
    }
    return block;
  }
  void* scratch(size_t bytes) override {
    scratch_live++;
    if (bytes > scratch_peak) scratch_peak = bytes;
    return block;
  }
  void release_scratch(void*) override { scratch_live--; }
  size_t free_memory() override { return free; }
  void empty_cache() override {
    empties++;
    grow_oom = false;  // the cache held what the workspace needed
  }
};

conv::Operands operands(cudnnMathType_t math = CUDNN_TENSOR_OP_MATH, bool accumulate = false) {
  static char x[1], w[1], y[1];
  conv::Operands o;
  o.x = x;
  o.w = w;
  o.y = y;
  o.math = math;
  o.accumulate = accumulate;
  return o;
}

conv::Key key(Pass p, bool accumulate = false, int math = CUDNN_TENSOR_OP_MATH) {
  conv::Key k;
  k.pass = static_cast<int32_t>(p);
  k.x[0] = 8, k.x[1] = 16, k.x[2] = 32, k.x[3] = 32;
  k.math = math;
  k.accumulate = accumulate;
  return k;
}

fake::Perf perf(int algo, size_t memory, cudnnMathType_t math = CUDNN_TENSOR_OP_MATH, float t = 1.f) {
  return fake::Perf{algo, CUDNN_STATUS_SUCCESS, memory, math, t};
}

int last_algo() { return fake::script().runs.back().algo; }

}  // namespace

// Item 3: each candidate's math type is set (and its status checked) before its workspace is
// sized, since cuDNN sizes the workspace for the descriptor's current math type.
TEST(conv_math_type_before_workspace_query) {
  fake::reset();
  fake::Script& s = fake::script();
  s.heuristics = {perf(6, 0, CUDNN_DEFAULT_MATH), perf(1, 0)};
  s.timed = {perf(6, 2 * MiB, CUDNN_DEFAULT_MATH), perf(1, 1 * MiB)};
  s.workspace[{6, CUDNN_DEFAULT_MATH}] = 2 * MiB;
  s.workspace[{1, CUDNN_TENSOR_OP_MATH}] = 1 * MiB;
  s.refused_math = {CUDNN_DEFAULT_MATH};  // this cuDNN will not take DEFAULT_MATH here
  FakeDevice dev;
  conv::AlgoCache cache;
  CHECK(conv::run<Pass::Fwd>(fake::api(), operands(), dev, cache, key(Pass::Fwd), "conv2dForward", ""));
  CHECK_EQ(s.mismatched_queries, 0);
  for (const auto& r : s.runs) CHECK(r.math != CUDNN_DEFAULT_MATH);  // never ran under a refused math type
  CHECK_EQ(last_algo(), 1);
  CHECK_EQ(s.runs.back().math, static_cast<int>(CUDNN_TENSOR_OP_MATH));
}

// Item 4: the search times in a scratch buffer; the persistent workspace ends at what the
// chosen algorithm needs, not at the largest heuristic request.
TEST(conv_search_scratch_not_kept) {
  fake::reset();
  fake::Script& s = fake::script();
  s.heuristics = {perf(7, 8192 * MiB), perf(1, 1 * MiB), perf(0, 0)};
  s.timed = {perf(1, 1 * MiB, CUDNN_TENSOR_OP_MATH, 0.5f), perf(7, 8192 * MiB, CUDNN_TENSOR_OP_MATH, 0.9f)};
  s.workspace[{1, CUDNN_TENSOR_OP_MATH}] = 1 * MiB;
  s.workspace[{7, CUDNN_TENSOR_OP_MATH}] = 8192 * MiB;
  FakeDevice dev;
  conv::AlgoCache cache;
  CHECK(conv::run<Pass::Fwd>(fake::api(), operands(), dev, cache, key(Pass::Fwd), "conv2dForward", ""));
  CHECK_EQ(s.find_workspace_bytes, 8192 * MiB);  // the search could time algorithm 7
  CHECK_EQ(dev.scratch_live, 0);                 // and gave its buffer back
  CHECK_EQ(last_algo(), 1);
  CHECK_EQ(dev.ws, 1 * MiB);  // only what algorithm 1 needs is held
}

// Item 7: a search that fails for a reason other than "not supported" is an error, and
// nothing is cached for the shape.
TEST(conv_search_failure_raises_and_caches_nothing) {
  fake::reset();
  fake::Script& s = fake::script();
  s.heuristics = {perf(1, 0)};
  s.find_status = CUDNN_STATUS_EXECUTION_FAILED;
  FakeDevice dev;
  conv::AlgoCache cache;
  CHECK_THROWS_CODE(conv::run<Pass::Fwd>(fake::api(), operands(), dev, cache, key(Pass::Fwd), "conv2dForward", ""),
                    std::string("ERR_CUDNN"));
  CHECK(s.runs.empty());
  conv::AlgoCache::Entry e;
  CHECK(!cache.lookup(key(Pass::Fwd), &e));
}

// Item 7: a declined search ranks by the heuristics for now, and is searched again at the
// next eager call (but not during a capture, where a search is forbidden).
TEST(conv_declined_search_is_not_final) {
  fake::reset();
  fake::Script& s = fake::script();
  s.heuristics = {perf(1, 0)};
  s.find_status = CUDNN_STATUS_NOT_SUPPORTED;
  FakeDevice dev;
  conv::AlgoCache cache;
  CHECK(conv::run<Pass::Fwd>(fake::api(), operands(), dev, cache, key(Pass::Fwd), "conv2dForward", ""));
  CHECK_EQ(last_algo(), 1);
  dev.capture = true;
  CHECK(conv::run<Pass::Fwd>(fake::api(), operands(), dev, cache, key(Pass::Fwd), "conv2dForward", ""));
  CHECK_EQ(s.find_calls, 1);
  dev.capture = false;
  s.find_status = CUDNN_STATUS_SUCCESS;
  s.timed = {perf(1, 0)};
  CHECK(conv::run<Pass::Fwd>(fake::api(), operands(), dev, cache, key(Pass::Fwd), "conv2dForward", ""));
  CHECK_EQ(s.find_calls, 2);
  conv::AlgoCache::Entry e;
  CHECK(cache.lookup(key(Pass::Fwd), &e) && e.searched);
}

// Item 8: when nothing else is offered, the backward passes fall back to ALGO_1 (cuDNN
// documents ALGO_0 of both as nondeterministic: it sums with atomics); the forward to
// IMPLICIT_GEMM.
TEST(conv_last_resort_is_deterministic) {
  const Pass passes[] = {Pass::Fwd, Pass::BwdData, Pass::BwdFilter};
  const int want[] = {CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, CUDNN_CONVOLUTION_BWD_DATA_ALGO_1,
                      CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1};
  for (int i = 0; i < 3; i++) {
    fake::reset();
    fake::script().heuristics = {fake::Perf{3, CUDNN_STATUS_NOT_SUPPORTED, 0, CUDNN_TENSOR_OP_MATH, -1.f}};
    FakeDevice dev;
    conv::AlgoCache cache;
    bool ran = passes[i] == Pass::Fwd
                   ? conv::run<Pass::Fwd>(fake::api(), operands(), dev, cache, key(passes[i]), "op", "")
               : passes[i] == Pass::BwdData
                   ? conv::run<Pass::BwdData>(fake::api(), operands(), dev, cache, key(passes[i]), "op", "")
                   : conv::run<Pass::BwdFilter>(fake::api(), operands(), dev, cache, key(passes[i]), "op", "");
    CHECK(ran);
    CHECK_EQ(fake::script().runs.size(), size_t{1});
    CHECK_EQ(last_algo(), want[i]);
  }
}

// Item 9: beta (accumulate into the output) is part of the key: an algorithm refused with
// beta = 1 is trimmed from that entry only, and beta = 0 calls keep using it.
TEST(conv_cache_keyed_on_beta) {
  fake::reset();
  fake::Script& s = fake::script();
  s.heuristics = {perf(1, 0), perf(0, 0)};
  s.timed = {perf(1, 0, CUDNN_TENSOR_OP_MATH, 0.5f), perf(0, 0, CUDNN_TENSOR_OP_MATH, 0.8f)};
  s.run_status_beta1[1] = CUDNN_STATUS_NOT_SUPPORTED;
  FakeDevice dev;
  conv::AlgoCache cache;
  CHECK(conv::run<Pass::Fwd>(fake::api(), operands(), dev, cache, key(Pass::Fwd, false), "op", ""));
  CHECK_EQ(last_algo(), 1);
  conv::prepare<Pass::Fwd>(fake::api(), operands(CUDNN_TENSOR_OP_MATH, true), dev, cache, key(Pass::Fwd, true), "op",
                           "");
  CHECK(conv::run<Pass::Fwd>(fake::api(), operands(CUDNN_TENSOR_OP_MATH, true), dev, cache, key(Pass::Fwd, true), "op",
                             ""));
  CHECK_EQ(last_algo(), 0);
  CHECK(s.runs.back().beta1);
  CHECK(conv::run<Pass::Fwd>(fake::api(), operands(), dev, cache, key(Pass::Fwd, false), "op", ""));
  CHECK_EQ(last_algo(), 1);
}

// A call whose output already holds data (beta = 1) never searches: a search would overwrite it.
TEST(conv_accumulating_call_never_searches) {
  fake::reset();
  fake::script().heuristics = {perf(1, 0)};
  FakeDevice dev;
  conv::AlgoCache cache;
  CHECK_THROWS_CODE(conv::run<Pass::Fwd>(fake::api(), operands(CUDNN_TENSOR_OP_MATH, true), dev, cache,
                                         key(Pass::Fwd, true), "op", ""),
                    std::string("ERR_CUDNN"));
  CHECK_EQ(fake::script().find_calls, 0);
}

// Without TF32 permission (FMA_MATH requested), candidates that need tensor cores are dropped
// and every run is under FMA_MATH.
TEST(conv_fma_request_excludes_tensor_cores) {
  fake::reset();
  fake::Script& s = fake::script();
  s.heuristics = {perf(1, 0, CUDNN_TENSOR_OP_MATH), perf(0, 0, CUDNN_FMA_MATH)};
  s.timed = {perf(1, 0, CUDNN_TENSOR_OP_MATH, 0.1f), perf(0, 0, CUDNN_FMA_MATH, 0.5f)};
  s.run_status[0] = CUDNN_STATUS_NOT_SUPPORTED;
  FakeDevice dev;
  conv::AlgoCache cache;
  // The only FMA candidate is refused: nothing runs, and the caller learns it (false).
  CHECK(!conv::run<Pass::Fwd>(fake::api(), operands(CUDNN_FMA_MATH), dev, cache, key(Pass::Fwd, false, CUDNN_FMA_MATH),
                              "op", ""));
  for (const auto& r : s.runs) CHECK_EQ(r.math, static_cast<int>(CUDNN_FMA_MATH));
  for (const auto& r : s.runs) CHECK(r.algo != 1);
}

// During a capture: no search (ERR_CAPTURE_FORBIDDEN); a candidate that needs a larger
// workspace than the capture has is skipped without trimming it from the cache.
TEST(conv_capture_rules) {
  fake::reset();
  fake::Script& s = fake::script();
  s.heuristics = {perf(7, 4 * MiB), perf(1, 0)};
  s.timed = {perf(7, 4 * MiB, CUDNN_TENSOR_OP_MATH, 0.1f), perf(1, 0, CUDNN_TENSOR_OP_MATH, 0.5f)};
  s.workspace[{7, CUDNN_TENSOR_OP_MATH}] = 4 * MiB;
  FakeDevice dev;
  conv::AlgoCache cache;
  dev.capture = true;
  CHECK_THROWS_CODE(conv::run<Pass::Fwd>(fake::api(), operands(), dev, cache, key(Pass::Fwd), "op", ""),
                    std::string("ERR_CAPTURE_FORBIDDEN"));
  CHECK_EQ(s.find_calls, 0);
  dev.capture = false;
  conv::prepare<Pass::Fwd>(fake::api(), operands(), dev, cache, key(Pass::Fwd), "op", "");
  dev.capture = true;  // the workspace is still 0 B: algorithm 7 cannot run inside the capture
  CHECK(conv::run<Pass::Fwd>(fake::api(), operands(), dev, cache, key(Pass::Fwd), "op", ""));
  CHECK_EQ(last_algo(), 1);
  CHECK_EQ(dev.ws, size_t{0});
  conv::AlgoCache::Entry e;
  CHECK(cache.lookup(key(Pass::Fwd), &e));
  CHECK_EQ(e.ranked.front().algo, 7);  // still first for eager calls
}

// No memory for a workspace: the allocator's cache is emptied and the candidates run again,
// except during a capture (cudaFree would synchronise).
TEST(conv_out_of_memory_retries_after_emptying_cache) {
  fake::reset();
  fake::Script& s = fake::script();
  s.heuristics = {perf(7, 4 * MiB)};
  s.timed = {perf(7, 4 * MiB)};
  s.workspace[{7, CUDNN_TENSOR_OP_MATH}] = 4 * MiB;
  s.run_status[0] = CUDNN_STATUS_NOT_SUPPORTED;  // the last resort does not help here
  FakeDevice dev;
  conv::AlgoCache cache;
  conv::prepare<Pass::Fwd>(fake::api(), operands(), dev, cache, key(Pass::Fwd), "op", "");
  dev.grow_oom = true;
  dev.capture = true;
  CHECK_THROWS_CODE(conv::run<Pass::Fwd>(fake::api(), operands(), dev, cache, key(Pass::Fwd), "op", ""),
                    std::string("ERR_CUDNN"));
  CHECK_EQ(dev.empties, 0);
  dev.capture = false;
  CHECK(conv::run<Pass::Fwd>(fake::api(), operands(), dev, cache, key(Pass::Fwd), "op", ""));
  CHECK_EQ(dev.empties, 1);
  CHECK_EQ(last_algo(), 7);
}

// Item 6 applied: a broken installation reported by a convolution is raised with what to
// install, not skipped like a refused algorithm.
TEST(conv_environment_status_raises) {
  fake::reset();
  fake::Script& s = fake::script();
  s.heuristics = {perf(1, 0), perf(0, 0)};
  s.timed = {perf(1, 0), perf(0, 0)};
  s.run_status[1] = CUDNN_STATUS_NOT_SUPPORTED_SUBLIBRARY_UNAVAILABLE;
  FakeDevice dev;
  conv::AlgoCache cache;
  CHECK_THROWS_CODE(conv::run<Pass::Fwd>(fake::api(), operands(), dev, cache, key(Pass::Fwd), "op", ""),
                    std::string("ERR_CUDNN"));
  CHECK_EQ(s.runs.size(), size_t{1});
}
