#include "ReferenceIntegrateBoltzmannGeneratorStepKernel.h"
#include "BoltzmannGeneratorIntegrator.h"
#include "SimTKOpenMMRealType.h"
#include "internal/BoltzmannGeneratorModel.h"
#include "internal/CheckpointBlock.h"
#include "openmm/OpenMMException.h"
#include "openmm/internal/ContextImpl.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <sstream>

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

static const int checkpointVersion = 1;

void ReferenceIntegrateBoltzmannGeneratorStepKernel::initialize(const System& system, const BoltzmannGeneratorIntegrator& integrator,
                                                                BoltzmannGeneratorModel& model) {
    this->model = &model;
    const int n = system.getNumParticles();
    inverseMasses.resize(n);
    for (int i = 0; i < n; i++) {
        const double mass = system.getParticleMass(i);
        inverseMasses[i] = mass == 0.0 ? 0.0 : 1.0 / mass;
        hasVirtualSites |= system.isVirtualSite(i);
    }
    planarParticle.assign(n, false);
    if (model.getDimension() == 2)
        for (int p : model.getParticles())
            planarParticle[p] = true;
    uint64_t seed = (uint32_t) integrator.getRandomNumberSeed();
    if (seed == 0) {
        random_device device;
        seed = ((uint64_t) device() << 32) ^ device();
    }
    random.seed(seed);
    gaussian.reset();
    lastLoss = numeric_limits<double>::quiet_NaN();
}

void ReferenceIntegrateBoltzmannGeneratorStepKernel::langevinStep(ContextImpl& context, const BoltzmannGeneratorIntegrator& integrator,
                                                                  vector<Vec3>& x) {
    vector<Vec3> v, f;
    context.getPositions(x);
    context.getVelocities(v);
    context.getForces(f);
    const double dt = integrator.getStepSize();
    const double decay = exp(-integrator.getFriction() * dt);
    const double noiseScale = sqrt(model->getKT() * (1.0 - decay * decay));
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

void ReferenceIntegrateBoltzmannGeneratorStepKernel::execute(ContextImpl& context, const BoltzmannGeneratorIntegrator& integrator) {
    vector<Vec3> positions;
    langevinStep(context, integrator, positions);
    steps++;
    const int moveInterval = integrator.getFlowMoveInterval();
    if (moveInterval > 0 && steps % moveInterval == 0) {
        FlowMoveResult move = model->flowMove(context, positions, integrator.getProposalBatchSize(), integrator.getIntegrationForceGroups(),
                                              hasVirtualSites);
        flowMoves++;
        proposalLogWeights.push_back(move.proposalLogWeight);
        while ((int) proposalLogWeights.size() > integrator.getEssWindow())
            proposalLogWeights.pop_front();
        if (move.accepted)
            acceptedFlowMoves++;
    }
    const int trainingInterval = integrator.getTrainingInterval();
    if (trainingInterval > 0 && steps % trainingInterval == 0) {
        BoltzmannGeneratorTrainingReport report = model->train(context, 1);
        trainingIterations++;
        lastLoss = report.lastLoss;
    }
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

double ReferenceIntegrateBoltzmannGeneratorStepKernel::getRunningEss() const {
    if (proposalLogWeights.empty())
        return 0.0;
    const double maximum = *max_element(proposalLogWeights.begin(), proposalLogWeights.end());
    if (!isfinite(maximum))
        return 0.0;
    double sum = 0.0, sumSquares = 0.0;
    for (double logW : proposalLogWeights) {
        const double w = exp(logW - maximum);
        sum += w;
        sumSquares += w * w;
    }
    return sum * sum / (sumSquares * proposalLogWeights.size());
}

void ReferenceIntegrateBoltzmannGeneratorStepKernel::createCheckpoint(ContextImpl& context, ostream& stream) const {
    ostringstream text;
    text.precision(17);
    text << checkpointVersion << ' ' << steps << ' ' << flowMoves << ' ' << acceptedFlowMoves << ' ' << trainingIterations << ' '
         << lastLoss << ' ' << proposalLogWeights.size();
    for (double logW : proposalLogWeights)
        text << ' ' << logW;
    text << '\n' << random << '\n' << gaussian << '\n';
    writeCheckpointBlock(stream, text.str());
    model->saveState(stream);
}

void ReferenceIntegrateBoltzmannGeneratorStepKernel::loadCheckpoint(ContextImpl& context, istream& stream) {
    istringstream text(readCheckpointBlock(stream, "integrator state"));
    int version = 0;
    size_t windowSize = 0;
    string loss;
    text >> version;
    if (version != checkpointVersion)
        throw OpenMMException("BoltzmannGeneratorIntegrator: unsupported checkpoint version " + to_string(version));
    text >> steps >> flowMoves >> acceptedFlowMoves >> trainingIterations >> loss >> windowSize;
    lastLoss = (loss == "nan" || loss == "-nan") ? numeric_limits<double>::quiet_NaN() : stod(loss);
    proposalLogWeights.clear();
    for (size_t i = 0; i < windowSize; i++) {
        string value;
        text >> value;
        proposalLogWeights.push_back(value == "-inf" ? -numeric_limits<double>::infinity() : stod(value));
    }
    text >> random >> gaussian;
    if (!text)
        throw OpenMMException("BoltzmannGeneratorIntegrator: the checkpoint's integrator state is malformed");
    model->loadState(context, stream);
}
