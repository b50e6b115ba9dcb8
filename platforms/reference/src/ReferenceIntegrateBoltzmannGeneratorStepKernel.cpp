#include "ReferenceIntegrateBoltzmannGeneratorStepKernel.h"
#include "BoltzmannGeneratorIntegrator.h"
#include "internal/CheckpointBlock.h"
#include "openmm/OpenMMException.h"
#include "openmm/internal/ContextImpl.h"

#include <cmath>
#include <cstdint>
#include <sstream>

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

static const int checkpointVersion = 2;

void ReferenceIntegrateBoltzmannGeneratorStepKernel::initialize(const System& system, const BoltzmannGeneratorIntegrator& integrator,
                                                                const vector<int>& planarParticles) {
    const int n = system.getNumParticles();
    inverseMasses.resize(n);
    for (int i = 0; i < n; i++) {
        const double mass = system.getParticleMass(i);
        inverseMasses[i] = mass == 0.0 ? 0.0 : 1.0 / mass;
        hasVirtualSites |= system.isVirtualSite(i);
    }
    planarParticle.assign(n, false);
    for (int p : planarParticles)
        planarParticle[p] = true;
    uint64_t seed = (uint32_t) integrator.getRandomNumberSeed();
    if (seed == 0) {
        random_device device;
        seed = ((uint64_t) device() << 32) ^ device();
    }
    random.seed(seed);
    gaussian.reset();
}

void ReferenceIntegrateBoltzmannGeneratorStepKernel::execute(ContextImpl& context, const BoltzmannGeneratorIntegrator& integrator, double kT) {
    vector<Vec3> x, v, f;
    context.getPositions(x);
    context.getVelocities(v);
    context.getForces(f);
    const double dt = integrator.getStepSize();
    const double decay = exp(-integrator.getFriction() * dt);
    const double noiseScale = sqrt(kT * (1.0 - decay * decay));
    const int n = x.size();
    for (int i = 0; i < n; i++) {
        if (inverseMasses[i] == 0.0)
            continue;
        v[i] += f[i] * (dt * inverseMasses[i]);
        x[i] += v[i] * (0.5 * dt);
        const double sigma = noiseScale * sqrt(inverseMasses[i]);
        const Vec3 noise(gaussian(random), gaussian(random), gaussian(random));
        v[i] = v[i] * decay + noise * sigma;
        x[i] += v[i] * (0.5 * dt);
        if (planarParticle[i]) {
            v[i][2] = 0.0;
            x[i][2] = 0.0;
        }
    }
    context.setPositions(x);   // the integrator refuses Systems with constraints
    if (hasVirtualSites)
        context.computeVirtualSites();
    context.setVelocities(v);
    context.setTime(context.getTime() + dt);
    context.setStepCount(context.getStepCount() + 1);
}

double ReferenceIntegrateBoltzmannGeneratorStepKernel::computeKineticEnergy(ContextImpl& context, const BoltzmannGeneratorIntegrator& integrator) {
    vector<Vec3> v;
    context.getVelocities(v);
    double energy = 0.0;
    for (size_t i = 0; i < v.size(); i++)
        if (inverseMasses[i] != 0.0)
            energy += 0.5 * v[i].dot(v[i]) / inverseMasses[i];
    return energy;
}

void ReferenceIntegrateBoltzmannGeneratorStepKernel::createCheckpoint(ContextImpl& context, ostream& stream) const {
    ostringstream text;
    text << checkpointVersion << '\n' << random << '\n' << gaussian << '\n';
    writeCheckpointBlock(stream, text.str());
}

void ReferenceIntegrateBoltzmannGeneratorStepKernel::loadCheckpoint(ContextImpl& context, istream& stream) {
    istringstream text(readCheckpointBlock(stream, "Langevin random state"));
    int version = 0;
    text >> version;
    if (version != checkpointVersion)
        throw OpenMMException("BoltzmannGeneratorIntegrator: unsupported checkpoint version " + to_string(version) + " of the Langevin state");
    text >> random >> gaussian;
    if (!text)
        throw OpenMMException("BoltzmannGeneratorIntegrator: the checkpoint's Langevin state is malformed");
}
