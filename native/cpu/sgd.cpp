// PLACEHOLDER: to be implemented.
#include "../core/errors.h"
#include "cpu_backend.h"

namespace cr {

void CpuBackend::sgd_update_(const std::vector<Tensor>&, const std::vector<Tensor>&, const std::vector<Tensor>&, const SgdParams&) { throw_runtime("cpu", "not implemented yet"); }

}  // namespace cr
