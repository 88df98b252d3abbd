// cuDNN's legacy descriptors take int dimensions and index with int strides, so a tensor of
// 2^31 elements or more cannot be described; without this check the dimensions would wrap
// and cuDNN would read the wrong memory or refuse with an unrelated message.
#pragma once
#include <climits>
#include <cstdint>
#include <string>
#include <vector>

#include "../../core/errors.h"

namespace cr {
namespace cuda {

inline void check_legacy_dims(const std::vector<int64_t>& shape, const char* op) {
  int64_t numel = 1;
  bool too_large = false;
  for (int64_t d : shape) {
    if (d > INT_MAX) too_large = true;
    if (d > 0 && numel > INT64_MAX / d)
      too_large = true;
    else
      numel *= d;
  }
  if (!too_large && numel <= INT_MAX) return;
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); i++) s += (i ? ", " : "") + std::to_string(shape[i]);
  throw OpError(ErrorKind::Range,
                std::string(op) + ": a tensor of shape " + s + "] has 2^31 or more elements, more than cuDNN's " +
                    "legacy API can address; split the batch into smaller ones",
                "ERR_OUT_OF_RANGE");
}

}  // namespace cuda
}  // namespace cr
