// The one CPU backend instance. Its ops are defined in the per-family files beside this one.
#include "cpu_backend.h"

namespace cr {

Backend& cpu_backend() {
  static CpuBackend* b = new CpuBackend();  // leaked: outlives every tensor at exit
  return *b;
}

}  // namespace cr
