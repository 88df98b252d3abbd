// PLACEHOLDER: to be implemented.
#include "../core/errors.h"
#include "cpu_backend.h"

namespace cr {

CrossEntropyForward CpuBackend::softmax_cross_entropy_forward(const Tensor&, const Tensor&) { throw_runtime("cpu", "not implemented yet"); }
Tensor CpuBackend::softmax_cross_entropy_backward(const Tensor&, const Tensor&, const Tensor&) { throw_runtime("cpu", "not implemented yet"); }

}  // namespace cr
