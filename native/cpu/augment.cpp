// PLACEHOLDER: to be implemented.
#include "../core/errors.h"
#include "cpu_backend.h"

namespace cr {

Tensor CpuBackend::augment_batch(const Tensor&, const Tensor&, const Tensor&, const std::vector<float>&, const std::vector<float>&, int, DType, Layout) { throw_runtime("cpu", "not implemented yet"); }
Tensor CpuBackend::gather_labels(const Tensor&, const Tensor&) { throw_runtime("cpu", "not implemented yet"); }

}  // namespace cr
