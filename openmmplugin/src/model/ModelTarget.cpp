// The model's target kept up to date with its Context: held positions, box, global parameters and
// the centre of the modelled particles.

#include "SimTKOpenMMRealType.h"
#include "internal/BoltzmannGeneratorModelState.h"
#include "openmm/OpenMMException.h"
#include "openmm/internal/ContextImpl.h"

#include <stdexcept>

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

vector<double> BoltzmannGeneratorModel::currentCentre(ContextImpl& context) const {
    vector<Vec3> positions;
    context.getPositions(positions);
    const int d = getDimension();
    vector<double> centre(d, 0.0);
    for (int p : particles)
        for (int k = 0; k < d; k++)
            centre[k] += positions[p][k];
    for (double& c : centre)
        c /= particles.size();
    return centre;
}

void BoltzmannGeneratorModel::refreshTarget(ContextImpl& context) {
    vector<Vec3> positions;
    context.getPositions(positions);
    if (state->target == nullptr) {
        state->target.reset(
                new SystemTarget(*state->targetSystem, kT / BOLTZ, particles, positions, platformName, 1, getDimension(), {}, false));
        state->centredTarget.reset(new CentredTarget(*state->target));
    }
    else
        state->target->setHeldPositions(positions);
    Vec3 a, b, c;
    context.getPeriodicBoxVectors(a, b, c);
    state->target->setPeriodicBoxVectors(a, b, c);
    state->target->setParameters(context.getParameters());
    try {
        state->centredTarget->setCentre(currentCentre(context));
    }
    catch (const invalid_argument& e) {
        throw OpenMMException(string("BoltzmannGeneratorForce: the modelled particles' positions in the Context are not finite: ") +
                              e.what());
    }
}
