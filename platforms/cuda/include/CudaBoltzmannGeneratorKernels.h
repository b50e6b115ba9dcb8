#ifndef OPENMM_CUDA_BOLTZMANN_GENERATOR_KERNELS_H_
#define OPENMM_CUDA_BOLTZMANN_GENERATOR_KERNELS_H_

#include "BoltzmannGeneratorKernels.h"
#include "CudaContext.h"

#include <memory>
#include <vector>

namespace BoltzmannPlugin {

/**
 * CUDA implementation of CalcBoltzmannGeneratorForceKernel. It works on OpenMM's device arrays
 * (posq, atom order) directly; positions of the modelled particles are gathered on the device. The
 * flow itself (sampling, evaluation, training) runs on the host through the ForceImpl's
 * BoltzmannGeneratorModel.
 */
class CudaCalcBoltzmannGeneratorForceKernel : public CalcBoltzmannGeneratorForceKernel {
public:
    CudaCalcBoltzmannGeneratorForceKernel(std::string name, const OpenMM::Platform& platform, OpenMM::CudaContext& cu)
            : CalcBoltzmannGeneratorForceKernel(name, platform), cu(cu) {
    }
    ~CudaCalcBoltzmannGeneratorForceKernel();
    void initialize(const OpenMM::System& system, const BoltzmannGeneratorForce& force) override;
    double execute(OpenMM::ContextImpl& context, bool includeForces, bool includeEnergy) override;
    void copyModelledPositions(OpenMM::ContextImpl& context, std::vector<OpenMM::Vec3>& positions) override;

private:
    OpenMM::CudaContext& cu;
    int numModelled = 0;
    int* modelledSlot = nullptr;      // device [numAtoms]: original particle index -> modelled index or -1
    double* gathered = nullptr;       // device [numModelled * 3]
};

} // namespace BoltzmannPlugin

#endif
