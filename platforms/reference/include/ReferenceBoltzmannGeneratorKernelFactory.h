#ifndef OPENMM_REFERENCE_BOLTZMANN_GENERATOR_KERNEL_FACTORY_H_
#define OPENMM_REFERENCE_BOLTZMANN_GENERATOR_KERNEL_FACTORY_H_

#include "openmm/KernelFactory.h"

namespace BoltzmannPlugin {

/**
 * Creates the Reference kernels. It is registered on every platform derived from
 * ReferencePlatform, which includes the CPU platform.
 */
class ReferenceBoltzmannGeneratorKernelFactory : public OpenMM::KernelFactory {
public:
    OpenMM::KernelImpl* createKernelImpl(std::string name, const OpenMM::Platform& platform, OpenMM::ContextImpl& context) const override;
};

} // namespace BoltzmannPlugin

/** Register the Reference kernel factory (for programs that link the library instead of loading it as a plugin). */
extern "C" void registerBoltzmannGeneratorReferenceKernelFactories();

#endif
