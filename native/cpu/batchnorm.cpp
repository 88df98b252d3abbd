// PLACEHOLDER: to be implemented.
#include "../core/errors.h"
#include "cpu_backend.h"

namespace cr {

BatchNormForward CpuBackend::batchnorm_forward_training(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, double, double, const Tensor*, bool) { throw_runtime("cpu", "not implemented yet"); }
Tensor CpuBackend::batchnorm_forward_inference(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, double, const Tensor*, bool) { throw_runtime("cpu", "not implemented yet"); }
BatchNormBackward CpuBackend::batchnorm_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, double, const Tensor*, bool, bool) { throw_runtime("cpu", "not implemented yet"); }

}  // namespace cr
