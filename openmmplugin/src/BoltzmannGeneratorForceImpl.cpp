#include "internal/BoltzmannGeneratorForceImpl.h"
#include "BoltzmannGeneratorKernels.h"
#include "openmm/OpenMMException.h"
#include "openmm/internal/ContextImpl.h"

#include <set>
#include <string>

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

namespace {

/**
 * The flow samples unconstrained Cartesian coordinates, so a constraint on a modelled particle
 * would be violated by every sample (and its bond's energy term is absent from the System).
 */
void refuseConstrainedModelledParticles(const System& system, const set<int>& modelled) {
    for (int i = 0; i < system.getNumConstraints(); i++) {
        int p1, p2;
        double distance;
        system.getConstraintParameters(i, p1, p2, distance);
        if (modelled.count(p1) == 0 && modelled.count(p2) == 0)
            continue;
        throw OpenMMException("BoltzmannGeneratorForce: constraint " + to_string(i) + " (particles " + to_string(p1) + " and " +
                              to_string(p2) +
                              ") involves a modelled particle; the flow samples unconstrained coordinates. "
                              "Build the System without constraints on the modelled particles (e.g. createSystem(constraints=None) "
                              "and rigidWater=False for modelled waters); constraints among other particles are allowed");
    }
}

}   // namespace

BoltzmannGeneratorForceImpl::BoltzmannGeneratorForceImpl(const BoltzmannGeneratorForce& owner) : owner(owner) {
}

BoltzmannGeneratorForceImpl::~BoltzmannGeneratorForceImpl() {
}

void BoltzmannGeneratorForceImpl::initialize(ContextImpl& context) {
    const System& system = context.getSystem();
    for (int p : owner.getParticles()) {
        if (p >= system.getNumParticles())
            throw OpenMMException("BoltzmannGeneratorForce: particle index " + to_string(p) + " is out of range for a System of " +
                                  to_string(system.getNumParticles()) + " particles");
        if (system.isVirtualSite(p))
            throw OpenMMException("BoltzmannGeneratorForce: modelled particle " + to_string(p) + " is a virtual site");
    }
    refuseConstrainedModelledParticles(system, set<int>(owner.getParticles().begin(), owner.getParticles().end()));
    model.reset(new BoltzmannGeneratorModel(system, owner, context.getPlatform().getName()));
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

void BoltzmannGeneratorForceImpl::updateParametersInContext(ContextImpl& context, const BoltzmannGeneratorForce& force) {
    model->reset(force);
}

vector<Vec3> BoltzmannGeneratorForceImpl::getModelledPositions(ContextImpl& context) {
    vector<Vec3> positions;
    kernel.getAs<CalcBoltzmannGeneratorForceKernel>().copyModelledPositions(context, positions);
    return positions;
}
