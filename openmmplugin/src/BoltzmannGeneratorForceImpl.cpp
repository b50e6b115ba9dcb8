#include "internal/BoltzmannGeneratorForceImpl.h"
#include "BoltzmannGeneratorKernels.h"
#include "openmm/OpenMMException.h"
#include "openmm/internal/ContextImpl.h"

#include <string>

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

BoltzmannGeneratorForceImpl::BoltzmannGeneratorForceImpl(const BoltzmannGeneratorForce& owner) : owner(owner) {
}

void BoltzmannGeneratorForceImpl::initialize(ContextImpl& context) {
    const System& system = context.getSystem();
    for (int p : owner.getParticles())
        if (p >= system.getNumParticles())
            throw OpenMMException("BoltzmannGeneratorForce: particle index " + to_string(p) +
                                  " is out of range for a System of " + to_string(system.getNumParticles()) + " particles");
    kernel = context.getPlatform().createKernel(CalcBoltzmannGeneratorForceKernel::Name(), context);
    kernel.getAs<CalcBoltzmannGeneratorForceKernel>().initialize(system, owner);
}

double BoltzmannGeneratorForceImpl::calcForcesAndEnergy(ContextImpl& context, bool includeForces, bool includeEnergy, int groups) {
    if ((groups & (1 << owner.getForceGroup())) == 0)
        return 0.0;
    return kernel.getAs<CalcBoltzmannGeneratorForceKernel>().execute(context, includeForces, includeEnergy);
}

vector<string> BoltzmannGeneratorForceImpl::getKernelNames() {
    return {CalcBoltzmannGeneratorForceKernel::Name()};
}
