// PLACEHOLDER: to be implemented.
#include "../core/errors.h"
#include "cpu_backend.h"

namespace cr {

Tensor CpuBackend::linear_forward(const Tensor&, const Tensor&, const Tensor*) { throw_runtime("cpu", "not implemented yet"); }
Tensor CpuBackend::linear_backward_data(const Tensor&, const Tensor&) { throw_runtime("cpu", "not implemented yet"); }
Tensor CpuBackend::linear_backward_weight(const Tensor&, const Tensor&) { throw_runtime("cpu", "not implemented yet"); }
Tensor CpuBackend::linear_backward_bias(const Tensor&) { throw_runtime("cpu", "not implemented yet"); }

}  // namespace cr
