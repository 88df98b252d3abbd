// PLACEHOLDER: to be implemented.
#include "../core/errors.h"
#include "cpu_backend.h"

namespace cr {

Tensor CpuBackend::conv2d_forward(const Tensor&, const Tensor&, const Tensor*, const Conv2dParams&) { throw_runtime("cpu", "not implemented yet"); }
Tensor CpuBackend::conv2d_backward_data(const Tensor&, const Tensor&, const Shape&, const Conv2dParams&) { throw_runtime("cpu", "not implemented yet"); }
Tensor CpuBackend::conv2d_backward_filter(const Tensor&, const Tensor&, const Shape&, const Conv2dParams&) { throw_runtime("cpu", "not implemented yet"); }
Tensor CpuBackend::conv2d_backward_bias(const Tensor&) { throw_runtime("cpu", "not implemented yet"); }

}  // namespace cr
