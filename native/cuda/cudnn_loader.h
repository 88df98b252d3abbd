// Finds and loads libcudnn.so.9 at run time (see cudnn_api.h for why it is never linked).
#pragma once
#include <string>
#include <vector>

#include "cudnn_api.h"

namespace cr {
namespace dnn {

struct LoadResult {
  bool ok = false;
  std::string path;                   // the file that was loaded
  size_t version = 0;                 // cudnnGetVersion(), e.g. 91400
  std::string error;                  // why loading failed, naming every place tried
  std::vector<std::string> searched;  // "place: outcome", in search order
};

// Loads once per process (thread-safe) and returns the outcome; never throws.
const LoadResult& load();
// The function table; only valid when load().ok.
const Api& api();

}  // namespace dnn
}  // namespace cr
