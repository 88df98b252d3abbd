// PLACEHOLDER: to be implemented.
#include "../core/errors.h"
#include "cpu_backend.h"

namespace cr {

Tensor CpuBackend::sum(const Tensor&) { throw_runtime("cpu", "not implemented yet"); }
Tensor CpuBackend::l2_norms(const std::vector<Tensor>&) { throw_runtime("cpu", "not implemented yet"); }

}  // namespace cr
