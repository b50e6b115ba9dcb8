#include "BoltzmannGeneratorForce.h"
#include "BoltzmannGeneratorKernels.h"
#include "internal/BoltzmannGeneratorForceImpl.h"
#include "openmm/OpenMMException.h"

#include <cmath>
#include <set>
#include <string>

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

static void checkTemperature(double temperature) {
    if (!(temperature > 0.0) || !isfinite(temperature))
        throw OpenMMException("BoltzmannGeneratorForce: the temperature must be positive and finite (Kelvin), got " +
                              to_string(temperature));
}

BoltzmannGeneratorForce::BoltzmannGeneratorForce(const vector<int>& particles, double temperature)
        : particles(particles), temperature(temperature) {
    if (particles.empty())
        throw OpenMMException("BoltzmannGeneratorForce: the list of modelled particles is empty");
    set<int> seen;
    for (int p : particles) {
        if (p < 0)
            throw OpenMMException("BoltzmannGeneratorForce: particle index " + to_string(p) + " is negative");
        if (!seen.insert(p).second)
            throw OpenMMException("BoltzmannGeneratorForce: particle " + to_string(p) + " is listed more than once");
    }
    checkTemperature(temperature);
}

void BoltzmannGeneratorForce::setTemperature(double temperature) {
    checkTemperature(temperature);
    this->temperature = temperature;
}

void BoltzmannGeneratorForce::setFlow(const string& config, const string& weights) {
    if (config.empty())
        throw OpenMMException("BoltzmannGeneratorForce: setFlow() needs a non-empty flow configuration");
    flowConfig = config;
    flowWeights = weights;
}

ForceImpl* BoltzmannGeneratorForce::createImpl() const {
    return new BoltzmannGeneratorForceImpl(*this);
}

vector<Vec3> BoltzmannGeneratorForce::getModelledPositions(Context& context) const {
    BoltzmannGeneratorForceImpl* impl = nullptr;
    try {
        impl = dynamic_cast<BoltzmannGeneratorForceImpl*>(&getImplInContext(context));
    }
    catch (const OpenMMException&) {
    }
    if (impl == nullptr)
        throw OpenMMException("BoltzmannGeneratorForce: this force is not part of the Context's System");
    vector<Vec3> positions;
    impl->getKernel().getAs<CalcBoltzmannGeneratorForceKernel>().copyModelledPositions(getContextImpl(context), positions);
    return positions;
}
