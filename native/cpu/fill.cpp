// PLACEHOLDER: to be implemented.
#include "../core/errors.h"
#include "cpu_backend.h"

namespace cr {

void CpuBackend::fill_constant_(const Tensor&, double) { throw_runtime("cpu", "not implemented yet"); }
void CpuBackend::fill_uniform_(const Tensor&, double, double, uint64_t) { throw_runtime("cpu", "not implemented yet"); }
void CpuBackend::fill_normal_(const Tensor&, double, double, uint64_t) { throw_runtime("cpu", "not implemented yet"); }

}  // namespace cr
