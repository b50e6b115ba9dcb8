#include "ReferenceBoltzmannGeneratorKernelFactory.h"
#include "ReferenceBoltzmannGeneratorKernels.h"
#include "ReferenceIntegrateBoltzmannGeneratorStepKernel.h"
#include "openmm/OpenMMException.h"
#include "openmm/reference/ReferencePlatform.h"

using namespace BoltzmannPlugin;
using namespace OpenMM;

extern "C" OPENMM_EXPORT void registerPlatforms() {
}

extern "C" OPENMM_EXPORT void registerKernelFactories() {
    for (int i = 0; i < Platform::getNumPlatforms(); i++) {
        Platform& platform = Platform::getPlatform(i);
        if (dynamic_cast<ReferencePlatform*>(&platform) == nullptr)
            continue;
        if (platform.supportsKernels({CalcBoltzmannGeneratorForceKernel::Name()}))
            continue;   // already registered (the plugin directory was loaded twice)
        ReferenceBoltzmannGeneratorKernelFactory* factory = new ReferenceBoltzmannGeneratorKernelFactory();
        platform.registerKernelFactory(CalcBoltzmannGeneratorForceKernel::Name(), factory);
        platform.registerKernelFactory(IntegrateBoltzmannGeneratorStepKernel::Name(), factory);
    }
}

extern "C" OPENMM_EXPORT void registerBoltzmannGeneratorReferenceKernelFactories() {
    registerKernelFactories();
}

KernelImpl* ReferenceBoltzmannGeneratorKernelFactory::createKernelImpl(std::string name, const Platform& platform, ContextImpl& context) const {
    if (name == CalcBoltzmannGeneratorForceKernel::Name())
        return new ReferenceCalcBoltzmannGeneratorForceKernel(name, platform);
    if (name == IntegrateBoltzmannGeneratorStepKernel::Name())
        return new ReferenceIntegrateBoltzmannGeneratorStepKernel(name, platform);
    throw OpenMMException("ReferenceBoltzmannGeneratorKernelFactory: tried to create a kernel with illegal kernel name '" + name + "'");
}
