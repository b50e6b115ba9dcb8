#ifndef OPENMM_CUDA_BOLTZMANN_GENERATOR_KERNEL_FACTORY_H_
#define OPENMM_CUDA_BOLTZMANN_GENERATOR_KERNEL_FACTORY_H_

#include "openmm/KernelFactory.h"

namespace BoltzmannPlugin {

/** Creates the CUDA kernels; registered on OpenMM's CUDA platform when that platform is present. */
class CudaBoltzmannGeneratorKernelFactory : public OpenMM::KernelFactory {
public:
    OpenMM::KernelImpl* createKernelImpl(std::string name, const OpenMM::Platform& platform, OpenMM::ContextImpl& context) const override;
};

} // namespace BoltzmannPlugin

/** Register the CUDA kernel factory (for programs that link the library instead of loading it as a plugin). */
extern "C" void registerBoltzmannGeneratorCudaKernelFactories();

#endif
