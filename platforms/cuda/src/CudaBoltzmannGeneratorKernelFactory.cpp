#include "CudaBoltzmannGeneratorKernelFactory.h"
#include "CudaBoltzmannGeneratorKernels.h"
#include "CudaPlatform.h"
#include "openmm/OpenMMException.h"
#include "openmm/internal/ContextImpl.h"

using namespace BoltzmannPlugin;
using namespace OpenMM;

extern "C" OPENMM_EXPORT void registerPlatforms() {
}

extern "C" OPENMM_EXPORT void registerKernelFactories() {
    try {
        Platform& platform = Platform::getPlatformByName("CUDA");
        if (!platform.supportsKernels({CalcBoltzmannGeneratorForceKernel::Name()}))
            platform.registerKernelFactory(CalcBoltzmannGeneratorForceKernel::Name(), new CudaBoltzmannGeneratorKernelFactory());
    }
    catch (const std::exception&) {
        // OpenMM's CUDA platform is not available (no driver or no GPU): nothing to register.
    }
}

extern "C" OPENMM_EXPORT void registerBoltzmannGeneratorCudaKernelFactories() {
    registerKernelFactories();
}

KernelImpl* CudaBoltzmannGeneratorKernelFactory::createKernelImpl(std::string name, const Platform& platform, ContextImpl& context) const {
    CudaPlatform::PlatformData& data = *static_cast<CudaPlatform::PlatformData*>(context.getPlatformData());
    CudaContext& cu = *data.contexts[0];
    if (name == CalcBoltzmannGeneratorForceKernel::Name())
        return new CudaCalcBoltzmannGeneratorForceKernel(name, platform, cu);
    throw OpenMMException("CudaBoltzmannGeneratorKernelFactory: tried to create a kernel with illegal kernel name '" + name + "'");
}
