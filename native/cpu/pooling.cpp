// PLACEHOLDER: to be implemented.
#include "../core/errors.h"
#include "cpu_backend.h"

namespace cr {

Tensor CpuBackend::pool2d_forward(const Tensor&, const Pool2dParams&) { throw_runtime("cpu", "not implemented yet"); }
Tensor CpuBackend::pool2d_backward(const Tensor&, const Tensor&, const Tensor&, const Pool2dParams&) { throw_runtime("cpu", "not implemented yet"); }

}  // namespace cr
