// The model's target kept up to date with its Context: held positions, box, global parameters and
// the centre of the modelled particles.

#include "SimTKOpenMMRealType.h"
#include "internal/BoltzmannGeneratorModelState.h"
#include "openmm/OpenMMException.h"
#include "openmm/Platform.h"
#include "openmm/internal/ContextImpl.h"

#include <map>
#include <stdexcept>
#include <string>

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

vector<double> BoltzmannGeneratorModel::currentCentre(ContextImpl& context) const {
    vector<Vec3> positions;
    context.getPositions(positions);
    return centreOf(positions);
}

vector<double> BoltzmannGeneratorModel::centreOf(const vector<Vec3>& positions) const {
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
        // The inner Contexts get the Context's platform properties (precision, device), except
        // the CPU thread count: one thread per inner Context is fastest for the small batches here.
        map<string, string> properties;
        const Platform& platform = context.getPlatform();
        for (const string& name : platform.getPropertyNames())
            if (name != "Threads")
                properties[name] = platform.getPropertyValue(context.getOwner(), name);
        state->target.reset(
                new SystemTarget(*state->targetSystem, kT / BOLTZ, particles, positions, platformName, 1, getDimension(), properties, false));
        state->centredTarget.reset(new CentredTarget(*state->target));
    }
    else
        state->target->setHeldPositions(positions);
    Vec3 a, b, c;
    context.getPeriodicBoxVectors(a, b, c);
    state->target->setPeriodicBoxVectors(a, b, c);
    state->target->setParameters(context.getParameters());
    try {
        state->centredTarget->setCentre(centreOf(positions));   // the positions read above
    }
    catch (const invalid_argument& e) {
        throw OpenMMException(string("BoltzmannGeneratorForce: the modelled particles' positions in the Context are not finite: ") +
                              e.what());
    }
}
