// PLACEHOLDER: to be implemented.
#include "../core/errors.h"
#include "cpu_backend.h"

namespace cr {

Tensor CpuBackend::shortcut_a_forward(const Tensor&, int64_t, int) { throw_runtime("cpu", "not implemented yet"); }
Tensor CpuBackend::shortcut_a_backward(const Tensor&, int64_t, int, const Shape&) { throw_runtime("cpu", "not implemented yet"); }

}  // namespace cr
