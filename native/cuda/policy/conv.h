// The convolution algorithm search, as decisions over cuDNN's answers: which algorithms to
// try and in which order, how much workspace to hold, what to cache and when to give up.
// Plain C++ on cudnn_api.h's types: every cuDNN call goes through the Api table passed in
// and every device-side need through conv::Device, so the decision tests run it against a
// scripted cuDNN with no GPU. conv.cu builds the descriptors and supplies the real Device.
//
// Like PyTorch's benchmark mode: the first call for a parameter tuple asks the heuristics
// (Get*_v7) for candidates, times those whose workspace fits (Find*Ex) in a temporary buffer,
// and caches the ranked list; later calls run the fastest and fall back to the next one when
// an algorithm is refused or its workspace cannot be had.
#pragma once
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "../cudnn_api.h"

namespace cr {
namespace cuda {
namespace conv {

enum class Pass { Fwd = 0, BwdData = 1, BwdFilter = 2 };

struct Candidate {
  int algo;
  size_t memory;              // workspace bytes cuDNN reported for it
  dnn::cudnnMathType_t math;  // the math type cuDNN paired it with
  float time_ms;              // from Find*Ex; -1 for heuristic-only entries
};

// One call in cuDNN's naming: x input, w filter, y output of the forward pass (for the
// backward passes dx resp. dw is the one written).
struct Operands {
  dnn::cudnnHandle_t handle = nullptr;
  dnn::cudnnTensorDescriptor_t xd = nullptr, yd = nullptr;
  dnn::cudnnFilterDescriptor_t wd = nullptr;
  dnn::cudnnConvolutionDescriptor_t cd = nullptr;
  void *x = nullptr, *w = nullptr, *y = nullptr;
  bool accumulate = false;  // forward only: y = conv(x, w) + y (cuDNN's beta = 1)
  // FMA_MATH: fp32 without TF32 (no candidate may use tensor cores); TENSOR_OP_MATH otherwise.
  dnn::cudnnMathType_t math = dnn::CUDNN_TENSOR_OP_MATH;
};

// The cache key: everything the ranking depends on. No padding bytes (compared with memcmp).
struct Key {
  int64_t x[4], w[4], y[4];
  int32_t device, pass, pad[2], stride[2], dil[2], dtype, layout, math, accumulate;
  Key() { std::memset(this, 0, sizeof(Key)); }
  bool operator<(const Key& o) const { return std::memcmp(this, &o, sizeof(Key)) < 0; }
};
static_assert(sizeof(Key) == 12 * 8 + 12 * 4, "Key must have no padding");

// What the search needs besides cuDNN.
class Device {
 public:
  virtual ~Device() = default;
  virtual int index() const = 0;
  virtual bool capturing() const = 0;
  // The persistent workspace the chosen algorithms run in: its size, and growing it (throws
  // OpError OutOfMemory when short of memory).
  virtual size_t workspace_bytes() const = 0;
  virtual void* workspace(size_t bytes) = 0;
  // A buffer for one search, returned right after it; nullptr when short of memory.
  virtual void* scratch(size_t bytes) = 0;
  virtual void release_scratch(void* p) = 0;
  virtual size_t free_memory() = 0;
  // Gives the allocator's cached blocks back to the driver (never called during a capture).
  virtual void empty_cache() = 0;
};

class AlgoCache {
 public:
  struct Entry {
    std::vector<Candidate> ranked;
    // false: Find*Ex declined (refused, or short of memory) and only the heuristics ranked
    // these. Used as they are during a capture; searched again at the next eager call.
    bool searched = true;
  };
  bool lookup(const Key& k, Entry* out) const;
  void store(const Key& k, Entry e);
  // The candidates before `winner` were refused for this key: drop them.
  void promote(const Key& k, size_t winner);
  std::vector<std::pair<Key, Entry>> snapshot() const;
  void clear();

 private:
  mutable std::mutex mu_;
  std::map<Key, Entry> map_;
};
AlgoCache& algo_cache();

// Timed candidates first (cuDNN's order), then the heuristics' other suggestions, then
// `last_resort` unless present; with FMA_MATH requested, candidates that need tensor cores
// are dropped.
std::vector<Candidate> rank_candidates(const std::vector<Candidate>& timed, const std::vector<Candidate>& heuristic,
                                       dnn::cudnnMathType_t requested, int last_resort);

const char* pass_name(Pass p);
const char* algo_name(Pass p, int algo);

// Runs the convolution with the best available algorithm. Returns false, having written
// nothing useful, only when cuDNN refused every candidate for this configuration (the
// caller may try another layout); throws OpError for everything else (ERR_CAPTURE_FORBIDDEN
// for a search during a capture, ERR_CUDA_OOM, ERR_CUDNN).
template <Pass P>
bool run(const dnn::Api& api, const Operands& o, Device& dev, AlgoCache& cache, const Key& key, const char* op,
         const std::string& detail);
// Makes sure the key is ranked (searching now if needed) without running it: a search
// writes garbage into the output, so a caller that fills the output first (o.accumulate)
// prepares before filling; run() itself never searches such a call.
template <Pass P>
void prepare(const dnn::Api& api, const Operands& o, Device& dev, AlgoCache& cache, const Key& key, const char* op,
             const std::string& detail);

}  // namespace conv
}  // namespace cuda
}  // namespace cr
