#include "ReferenceBoltzmannGeneratorKernels.h"
#include "openmm/reference/ReferencePlatform.h"

using namespace BoltzmannPlugin;
using namespace OpenMM;

void ReferenceCalcBoltzmannGeneratorForceKernel::initialize(const System& system, const BoltzmannGeneratorForce& force) {
    particles = force.getParticles();
}

double ReferenceCalcBoltzmannGeneratorForceKernel::execute(ContextImpl& context, bool includeForces, bool includeEnergy) {
    return 0.0;
}

void ReferenceCalcBoltzmannGeneratorForceKernel::copyModelledPositions(ContextImpl& context, std::vector<Vec3>& positions) {
    ReferencePlatform::PlatformData* data = reinterpret_cast<ReferencePlatform::PlatformData*>(context.getPlatformData());
    const std::vector<Vec3>& all = *data->positions;
    positions.resize(particles.size());
    for (size_t i = 0; i < particles.size(); i++)
        positions[i] = all[particles[i]];
}
