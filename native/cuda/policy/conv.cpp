#include "conv.h"

#include <algorithm>

#include "../../core/errors.h"
#include "capture.h"
#include "cudnn_status.h"

namespace cr {
namespace cuda {
namespace conv {

using namespace dnn;

namespace {

constexpr float kOne = 1.f, kZero = 0.f;
constexpr int kMaxPerf = 8;

// One trait per pass: cuDNN's result type, its four calls (heuristics, timed search,
// workspace size, run) on an Operands, the algorithm names and the last resort. Everything
// else below is written once for all three passes.
template <Pass P>
struct Traits;

template <>
struct Traits<Pass::Fwd> {
  using Perf = cudnnConvolutionFwdAlgoPerf_t;
  using Algo = cudnnConvolutionFwdAlgo_t;
  // Implicit GEMM needs no workspace and runs every configuration.
  static constexpr int kLastResort = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  static const char* name(int a) {
    static const char* n[] = {"IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT", "FFT", "FFT_TILING",
                              "WINOGRAD",      "WINOGRAD_NONFUSED"};
    return a >= 0 && a < 8 ? n[a] : "?";
  }
  static cudnnStatus_t heuristics(const Api& a, const Operands& o, int* got, Perf* p) {
    return a.cudnnGetConvolutionForwardAlgorithm_v7(o.handle, o.xd, o.wd, o.cd, o.yd, kMaxPerf, got, p);
  }
  static cudnnStatus_t find(const Api& a, const Operands& o, int* got, Perf* p, void* ws, size_t bytes) {
    return a.cudnnFindConvolutionForwardAlgorithmEx(o.handle, o.xd, o.x, o.wd, o.w, o.cd, o.yd, o.y, kMaxPerf, got, p,
                                                    ws, bytes);
  }
  static cudnnStatus_t workspace(const Api& a, const Operands& o, int algo, size_t* bytes) {
    return a.cudnnGetConvolutionForwardWorkspaceSize(o.handle, o.xd, o.wd, o.cd, o.yd, static_cast<Algo>(algo), bytes);
  }
  static cudnnStatus_t run(const Api& a, const Operands& o, int algo, void* ws, size_t bytes) {
    return a.cudnnConvolutionForward(o.handle, &kOne, o.xd, o.x, o.wd, o.w, o.cd, static_cast<Algo>(algo), ws, bytes,
                                     o.accumulate ? &kOne : &kZero, o.yd, o.y);
  }
};

template <>
struct Traits<Pass::BwdData> {
  using Perf = cudnnConvolutionBwdDataAlgoPerf_t;
  using Algo = cudnnConvolutionBwdDataAlgo_t;
  // ALGO_1, not ALGO_0: cuDNN documents ALGO_0 as summing with atomics (nondeterministic).
  static constexpr int kLastResort = CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;
  static const char* name(int a) {
    static const char* n[] = {"ALGO_0", "ALGO_1", "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
    return a >= 0 && a < 6 ? n[a] : "?";
  }
  static cudnnStatus_t heuristics(const Api& a, const Operands& o, int* got, Perf* p) {
    return a.cudnnGetConvolutionBackwardDataAlgorithm_v7(o.handle, o.wd, o.yd, o.cd, o.xd, kMaxPerf, got, p);
  }
  static cudnnStatus_t find(const Api& a, const Operands& o, int* got, Perf* p, void* ws, size_t bytes) {
    return a.cudnnFindConvolutionBackwardDataAlgorithmEx(o.handle, o.wd, o.w, o.yd, o.y, o.cd, o.xd, o.x, kMaxPerf, got,
                                                         p, ws, bytes);
  }
  static cudnnStatus_t workspace(const Api& a, const Operands& o, int algo, size_t* bytes) {
    return a.cudnnGetConvolutionBackwardDataWorkspaceSize(o.handle, o.wd, o.yd, o.cd, o.xd, static_cast<Algo>(algo),
                                                          bytes);
  }
  static cudnnStatus_t run(const Api& a, const Operands& o, int algo, void* ws, size_t bytes) {
    return a.cudnnConvolutionBackwardData(o.handle, &kOne, o.wd, o.w, o.yd, o.y, o.cd, static_cast<Algo>(algo), ws,
                                          bytes, &kZero, o.xd, o.x);
  }
};

template <>
struct Traits<Pass::BwdFilter> {
  using Perf = cudnnConvolutionBwdFilterAlgoPerf_t;
  using Algo = cudnnConvolutionBwdFilterAlgo_t;
  // As for backward data: ALGO_0 is the atomics-based one.
  static constexpr int kLastResort = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1;
  static const char* name(int a) {
    static const char* n[] = {"ALGO_0", "ALGO_1", "FFT", "ALGO_3", "WINOGRAD", "WINOGRAD_NONFUSED", "FFT_TILING"};
    return a >= 0 && a < 7 ? n[a] : "?";
  }
  static cudnnStatus_t heuristics(const Api& a, const Operands& o, int* got, Perf* p) {
    return a.cudnnGetConvolutionBackwardFilterAlgorithm_v7(o.handle, o.xd, o.yd, o.cd, o.wd, kMaxPerf, got, p);
  }
  static cudnnStatus_t find(const Api& a, const Operands& o, int* got, Perf* p, void* ws, size_t bytes) {
    return a.cudnnFindConvolutionBackwardFilterAlgorithmEx(o.handle, o.xd, o.x, o.yd, o.y, o.cd, o.wd, o.w, kMaxPerf,
                                                           got, p, ws, bytes);
  }
  static cudnnStatus_t workspace(const Api& a, const Operands& o, int algo, size_t* bytes) {
    return a.cudnnGetConvolutionBackwardFilterWorkspaceSize(o.handle, o.xd, o.yd, o.cd, o.wd, static_cast<Algo>(algo),
                                                            bytes);
  }
  static cudnnStatus_t run(const Api& a, const Operands& o, int algo, void* ws, size_t bytes) {
    return a.cudnnConvolutionBackwardFilter(o.handle, &kOne, o.xd, o.x, o.yd, o.y, o.cd, static_cast<Algo>(algo), ws,
                                            bytes, &kZero, o.wd, o.w);
  }
};

template <typename Perf>
std::vector<Candidate> successes(const Perf* perf, int n, size_t max_memory) {
  std::vector<Candidate> out;
  for (int i = 0; i < n; i++)
    if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= max_memory)
      out.push_back(Candidate{static_cast<int>(perf[i].algo), perf[i].memory, perf[i].mathType, perf[i].time});
  return out;
}

// The scratch buffer of one search, returned however the search ends.
class SearchScratch {
 public:
  SearchScratch(Device& dev, size_t bytes) : dev_(dev), p_(bytes > 0 ? dev.scratch(bytes) : nullptr) {}
  ~SearchScratch() {
    if (p_) dev_.release_scratch(p_);
  }
  SearchScratch(const SearchScratch&) = delete;
  SearchScratch& operator=(const SearchScratch&) = delete;
  void* get() const { return p_; }

 private:
  Device& dev_;
  void* p_;
};

template <Pass P>
AlgoCache::Entry search(const Api& api, const Operands& o, Device& dev, const char* op, const std::string& detail) {
  using T = Traits<P>;
  typename T::Perf perf[kMaxPerf];
  int got = 0;
  cudnnStatus_t st = T::heuristics(api, o, &got, perf);
  if (st != CUDNN_STATUS_SUCCESS) throw_status(api, st, op, "the convolution heuristics", detail);
  std::vector<Candidate> heur = successes(perf, got, SIZE_MAX);
  // Time them in a temporary buffer as large as the largest request within a quarter of
  // free memory; it goes back right after, and only what the chosen algorithm needs is kept
  // (as the persistent workspace, when it runs).
  size_t limit = std::max(dev.free_memory() / 4, dev.workspace_bytes());
  size_t want = 0;
  for (const Candidate& c : heur)
    if (c.memory <= limit) want = std::max(want, c.memory);
  SearchScratch scratch(dev, want);
  const size_t bytes = scratch.get() ? want : 0;  // without it, only workspace-free algorithms are timed
  got = 0;
  st = T::find(api, o, &got, perf, scratch.get(), bytes);
  AlgoCache::Entry e;
  std::vector<Candidate> timed;
  if (st == CUDNN_STATUS_SUCCESS) {
    timed = successes(perf, got, bytes);
  } else {
    StatusKind kind = classify(st);
    if (kind != StatusKind::Refused && kind != StatusKind::OutOfMemory)
      throw_status(api, st, op, "the convolution algorithm search", detail);
    e.searched = false;  // rank by the heuristics for now; search again at the next eager call
  }
  e.ranked = rank_candidates(timed, heur, o.math, T::kLastResort);
  return e;
}

// The ranked candidates for `key`, searching when there are none yet or only the heuristics'
// (outside a capture). A search writes garbage into the output, so a call whose output
// already holds data (`o.accumulate`) never searches: its caller prepares first.
template <Pass P>
AlgoCache::Entry ranked_for(const Api& api, const Operands& o, Device& dev, AlgoCache& cache, const Key& key,
                            bool may_search, const char* op, const std::string& detail) {
  AlgoCache::Entry e;
  bool cached = cache.lookup(key, &e);
  if (cached && (e.searched || dev.capturing() || !may_search)) return e;
  if (!may_search)
    throw OpError(ErrorKind::Runtime, std::string(op) + ": no algorithm was chosen before the output was filled",
                  "ERR_CUDNN");
  // cudnnFind*Ex synchronises the device, which would invalidate a graph capture.
  if (dev.capturing()) throw_capture_forbidden(dev.index(), op, capture_refusal(HostCall::ConvSearch));
  e = search<P>(api, o, dev, op, detail);
  cache.store(key, e);
  return e;
}

struct Attempt {
  bool ran = false;
  size_t winner = 0;
  bool transient = false;  // some candidate failed for a reason that may pass (memory, capture)
  bool out_of_memory = false;
  cudnnStatus_t last = CUDNN_STATUS_NOT_SUPPORTED;
  std::string failures;
};

template <Pass P>
void attempt(const Api& api, const Operands& o, Device& dev, const std::vector<Candidate>& cands, Attempt& a,
             const char* op, const std::string& detail) {
  using T = Traits<P>;
  for (size_t i = 0; i < cands.size(); i++) {
    const Candidate& c = cands[i];
    const std::string name = std::string(" ") + T::name(c.algo);
    // The math type first: cuDNN sizes the workspace for the descriptor's math type, so the
    // size must be asked under the one the candidate will run with. On Ampere and later
    // DEFAULT_MATH admits TF32 for fp32 data; only FMA_MATH rules it out.
    cudnnMathType_t math = o.math == CUDNN_FMA_MATH ? CUDNN_FMA_MATH : c.math;
    cudnnStatus_t st = api.cudnnSetConvolutionMathType(o.cd, math);
    size_t need = 0;
    if (st == CUDNN_STATUS_SUCCESS) st = T::workspace(api, o, c.algo, &need);
    if (st != CUDNN_STATUS_SUCCESS) {
      if (!refused(st)) throw_status(api, st, op, "preparing convolution algorithm" + name, detail);
      a.last = st;
      a.failures += name + ": " + (api.cudnnGetErrorString ? api.cudnnGetErrorString(st) : "refused") + ";";
      continue;
    }
    need = std::max(need, c.memory);
    void* ws = nullptr;
    if (need > dev.workspace_bytes() && dev.capturing()) {
      // The workspace cannot grow during a capture; a candidate that fits it may still run.
      a.transient = true;
      a.failures += name + ": needs a larger workspace than the capture has;";
      continue;
    }
    if (need > 0) {
      try {
        ws = dev.workspace(need);
      } catch (const OpError& e) {
        if (e.kind() != ErrorKind::OutOfMemory) throw;
        a.out_of_memory = a.transient = true;
        a.failures += name + ": no memory for its workspace;";
        continue;
      }
    }
    st = T::run(api, o, c.algo, ws, need);
    if (st == CUDNN_STATUS_SUCCESS) {
      a.ran = true;
      a.winner = i;
      return;
    }
    a.last = st;
    StatusKind kind = classify(st);
    if (kind == StatusKind::Environment) throw_status(api, st, op, std::string("convolution algorithm") + name, detail);
    if (kind == StatusKind::OutOfMemory) a.out_of_memory = true;
    if (kind != StatusKind::Refused) a.transient = true;
    a.failures += name + ": " + (api.cudnnGetErrorString ? api.cudnnGetErrorString(st) : "failed") + ";";
  }
}

}  // namespace

bool AlgoCache::lookup(const Key& k, Entry* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = map_.find(k);
  if (it == map_.end() || it->second.ranked.empty()) return false;
  *out = it->second;
  return true;
}

void AlgoCache::store(const Key& k, Entry e) {
  std::lock_guard<std::mutex> lock(mu_);
  map_[k] = std::move(e);
}

void AlgoCache::promote(const Key& k, size_t winner) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = map_.find(k);
  if (it == map_.end() || winner == 0 || winner >= it->second.ranked.size()) return;
  std::vector<Candidate>& r = it->second.ranked;
  r.erase(r.begin(), r.begin() + static_cast<std::ptrdiff_t>(winner));
}

std::vector<std::pair<Key, AlgoCache::Entry>> AlgoCache::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return std::vector<std::pair<Key, Entry>>(map_.begin(), map_.end());
}

void AlgoCache::clear() {
  std::lock_guard<std::mutex> lock(mu_);
  map_.clear();
}

AlgoCache& algo_cache() {
  static AlgoCache* c = new AlgoCache();  // leaked: ops may run during static destruction
  return *c;
}

std::vector<Candidate> rank_candidates(const std::vector<Candidate>& timed, const std::vector<Candidate>& heuristic,
                                       cudnnMathType_t requested, int last_resort) {
  auto forbidden = [&](const Candidate& c) {
    return requested == CUDNN_FMA_MATH && c.math != CUDNN_FMA_MATH && c.math != CUDNN_DEFAULT_MATH;
  };
  std::vector<Candidate> out;
  auto add = [&](const Candidate& c, float time_ms) {
    if (forbidden(c)) return;
    for (const Candidate& o : out)
      if (o.algo == c.algo && o.math == c.math) return;
    out.push_back(Candidate{c.algo, c.memory, c.math, time_ms});
  };
  for (const Candidate& c : timed) add(c, c.time_ms);
  for (const Candidate& c : heuristic) add(c, -1.f);
  bool has_last = false;
  for (const Candidate& c : out) has_last = has_last || c.algo == last_resort;
  if (!has_last) out.push_back(Candidate{last_resort, 0, requested, -1.f});
  return out;
}

const char* pass_name(Pass p) { return p == Pass::Fwd ? "fwd" : p == Pass::BwdData ? "bwd-data" : "bwd-filter"; }

const char* algo_name(Pass p, int algo) {
  return p == Pass::Fwd       ? Traits<Pass::Fwd>::name(algo)
         : p == Pass::BwdData ? Traits<Pass::BwdData>::name(algo)
                              : Traits<Pass::BwdFilter>::name(algo);
}

template <Pass P>
void prepare(const Api& api, const Operands& o, Device& dev, AlgoCache& cache, const Key& key, const char* op,
             const std::string& detail) {
  ranked_for<P>(api, o, dev, cache, key, true, op, detail);
}

template <Pass P>
bool run(const Api& api, const Operands& o, Device& dev, AlgoCache& cache, const Key& key, const char* op,
         const std::string& detail) {
  AlgoCache::Entry e = ranked_for<P>(api, o, dev, cache, key, !o.accumulate, op, detail);
  Attempt a;
  attempt<P>(api, o, dev, e.ranked, a, op, detail);
  // Short of memory: the blocks cached for reuse go back to the driver and the candidates
  // run once more. Not during a capture: cudaFree synchronises, which a capture forbids.
  if (!a.ran && a.out_of_memory && !dev.capturing()) {
    dev.empty_cache();
    a.failures += " then, after emptying the allocator's cache:";
    a.out_of_memory = false;
    attempt<P>(api, o, dev, e.ranked, a, op, detail);
  }
  if (a.ran) {
    // The ones before the winner were refused for this key: it moves to the front. After a
    // transient failure (memory, a capture's fixed workspace) the faster ones stay.
    if (a.winner > 0 && !a.transient) cache.promote(key, a.winner);
    return true;
  }
  if (!a.transient) return false;  // every candidate refused this configuration
  if (a.out_of_memory)
    throw OpError(ErrorKind::OutOfMemory,
                  std::string(op) + ": cuda:" + std::to_string(dev.index()) +
                      " is out of memory for every convolution algorithm:" + a.failures + " " + detail,
                  "ERR_CUDA_OOM");
  throw_status(api, a.last, op, "every convolution algorithm failed:", a.failures + " " + detail);
}

#define CR_CONV_PASS(P) \
  template bool run<P>(const Api&, const Operands&, Device&, AlgoCache&, const Key&, const char*, const std::string&); \
  template void prepare<P>(const Api&, const Operands&, Device&, AlgoCache&, const Key&, const char*, \
                           const std::string&);
CR_CONV_PASS(Pass::Fwd)
CR_CONV_PASS(Pass::BwdData)
CR_CONV_PASS(Pass::BwdFilter)
#undef CR_CONV_PASS

}  // namespace conv
}  // namespace cuda
}  // namespace cr
