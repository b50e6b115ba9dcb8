// Set-up of the per-Context model: flow, settings, generator and the target System.

#include "SimTKOpenMMRealType.h"
#include "bg/FabMethod.h"
#include "bg/FlowConfig.h"
#include "bg/ModelAdapters.h"
#include "internal/BoltzmannGeneratorModelState.h"
#include "openmm/OpenMMException.h"
#include "openmm/serialization/XmlSerializer.h"

#include <torch/torch.h>

#include <cmath>
#include <random>
#include <stdexcept>

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

namespace {


uint64_t seedFor(int seed) {
    if (seed != 0)
        return (uint64_t) (uint32_t) seed;
    random_device device;
    return ((uint64_t) device() << 32) ^ device();
}

bg::TrainingConfig trainingConfigOf(const BoltzmannGeneratorForce& force) {
    bg::TrainingConfig config;
    try {
        if (!force.getTrainingSettings().empty())
            config = bg::TrainingConfig::fromJson(force.getTrainingSettings());
        config.validate();
    }
    catch (const exception& e) {
        throw OpenMMException(string("BoltzmannGeneratorForce: invalid training settings: ") + e.what());
    }
    if (config.device != "cpu")
        throw OpenMMException("BoltzmannGeneratorForce: the training setting device=\"" + config.device +
                              "\" is not supported inside a Context yet (the flow runs on the CPU there); use device \"cpu\"");
    return config;
}

/**
 * The force's model: its stored weights (loadModel(): an E-ACF or an E-CNF), a fresh initialisation
 * of its configuration ("model": "ecnf" gives the E-CNF), or the default E-ACF. E-ACF sampling and
 * density evaluation go through the flow in chunks, so large requests (and marginal densities, which
 * repeat every configuration numDraws times) need bounded memory; ModelSampling.cpp chunks the E-CNF.
 */
shared_ptr<bg::GenerativeModel> modelOf(const BoltzmannGeneratorForce& force, uint64_t seed) {
    const int n = force.getNumParticles(), d = force.getDimension();
    shared_ptr<bg::GenerativeModel> model;
    try {
        if (force.hasFlow() && !force.getFlowWeights().empty())
            model = bg::loadModel(force.getFlowWeights());
        else if (force.hasFlow() && bg::modelKindOfConfig(force.getFlowConfig()) == "ecnf") {
            torch::manual_seed(seed);
            model = bg::createModel(force.getFlowConfig());
        }
        else {
            bg::FlowConfig flowConfig;
            if (force.hasFlow())
                flowConfig = bg::FlowConfig::fromJson(force.getFlowConfig());
            else {
                flowConfig.numParticles = n;
                flowConfig.dimension = d;
                if (d == 3 && n < 3)
                    flowConfig.projection = bg::Projection::Vector;   // a pair has no frame in 3-D
            }
            torch::manual_seed(seed);
            model = make_shared<bg::CouplingFlowModel>(bg::AugmentedCouplingFlow(flowConfig));
        }
    }
    catch (const exception& e) {
        throw OpenMMException(string("BoltzmannGeneratorForce: cannot build the flow: ") + e.what());
    }
    if (model->numParticles() != n || model->dimension() != d)
        throw OpenMMException("BoltzmannGeneratorForce: the flow models " + to_string(model->numParticles()) + " particles in " +
                              to_string(model->dimension()) + " dimensions, but the force has " + to_string(n) + " particles in " +
                              to_string(d) + (force.isPlanar() ? " (planar)" : ""));
    if (model->kind() == "eacf")
        bg::couplingFlowOf(*model, "BoltzmannGeneratorForce")->setInferenceBatchSize(BoltzmannGeneratorModel::State::inferenceChunk);
    return model;
}

}   // namespace

torch::Tensor BoltzmannPlugin::positionsToTensor(const vector<Vec3>& positions, int n, int d) {
    const int64_t batch = positions.size() / n;
    torch::Tensor x = torch::empty({batch, n, d}, torch::kFloat64);
    double* data = x.data_ptr<double>();
    for (size_t i = 0; i < positions.size(); i++)
        for (int k = 0; k < d; k++)
            data[i * d + k] = positions[i][k];
    return x;
}

vector<double> BoltzmannPlugin::tensorToVector(const torch::Tensor& t) {
    torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat64).contiguous();
    return vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

/** The training settings' fab.chiralCentres, checked against the force's modelled particles and dimension. */
static vector<bg::ChiralCentre> chiralCentresOf(const bg::TrainingConfig& config, const BoltzmannGeneratorForce& force) {
    try {
        vector<bg::ChiralCentre> centres = bg::FabSettings::fromJson(config.fab).chiralCentres;
        bg::checkChiralCentres(centres, force.getParticles().size(), force.getDimension(), "fab.chiralCentres");
        return centres;
    }
    catch (const exception& e) {
        throw OpenMMException(string("BoltzmannGeneratorForce: invalid training settings: ") + e.what());
    }
}

BoltzmannGeneratorModel::BoltzmannGeneratorModel(const System& system, const BoltzmannGeneratorForce& force, const string& platformName)
        : system(system), platformName(platformName), state(new State()) {
    reset(force);
}

BoltzmannGeneratorModel::~BoltzmannGeneratorModel() {
}

void BoltzmannGeneratorModel::reset(const BoltzmannGeneratorForce& force) {
    bg::TrainingConfig config = trainingConfigOf(force);
    if (state->model && (force.getParticles() != particles || force.getDimension() != getDimension() || force.getForceGroup() != forceGroup))
        throw OpenMMException("BoltzmannGeneratorForce: updateParametersInContext() cannot change the modelled particles, the planar "
                              "flag or the force group; create a new Context (or call reinitialize())");
    // The flow is replaced only when the force's flow differs from the one this Context was given
    // (setFlow() since then); otherwise the Context keeps its trained copy and random generator.
    const bool keepFlow = state->model && force.getFlowConfig() == appliedFlowConfig && force.getFlowWeights() == appliedFlowWeights &&
                          force.getRandomNumberSeed() == appliedSeed;
    if (!keepFlow) {
        const uint64_t seed = seedFor(force.getRandomNumberSeed());
        state->model = modelOf(force, seed);
        state->seed = seed;
        state->generator = at::detail::createCPUGenerator(seed + 1);
        state->rankGenerator = torch::Generator();
        appliedFlowConfig = force.getFlowConfig();
        appliedFlowWeights = force.getFlowWeights();
        appliedSeed = force.getRandomNumberSeed();
        parameterVersion++;
    }
    particles = force.getParticles();
    forceGroup = force.getForceGroup();
    kT = BOLTZ * force.getTemperature();
    // The target is every other force of the System as it is now (so parameters that other forces
    // pushed with their updateParametersInContext() are taken up); when the BG force has a group
    // of its own (not 0), the forces that share that group are left out as well (SystemTarget
    // drops the BG force itself).
    state->targetSystem.reset(XmlSerializer::clone<System>(system));
    if (forceGroup != 0)
        for (int i = state->targetSystem->getNumForces() - 1; i >= 0; i--)
            if (state->targetSystem->getForce(i).getForceGroup() == forceGroup)
                state->targetSystem->removeForce(i);
    // A new target (and temperature) invalidates the training state: optimisers and replay buffer start afresh.
    state->config = config;
    state->chiralCentres = chiralCentresOf(config, force);
    state->fab.reset();
    state->fabOptimizer.reset();
    state->mlOptimizer.reset();
    state->pendingMlOptimizer.clear();
    state->fabIterations = state->mlUpdates = 0;
    state->centredTarget.reset();
    state->target.reset();
    // The next training call joins the run again (taking rank 0's flow, which setFlow() may have changed).
    distributedTraining = force.getDistributedTraining();
    distributedTimeout = force.getDistributedTimeout();
    state->distributed.reset();
}

int BoltzmannGeneratorModel::getDimension() const {
    return state->model->dimension();
}

void BoltzmannGeneratorModel::checkPositions(const vector<Vec3>& positions, const char* where) const {
    const size_t n = particles.size();
    if (positions.empty() || positions.size() % n != 0)
        throw OpenMMException(string("BoltzmannGeneratorForce: ") + where + " needs a multiple of " + to_string(n) +
                              " positions (one block per configuration of the modelled particles), got " + to_string(positions.size()));
    for (size_t i = 0; i < positions.size(); i++)
        for (int d = 0; d < 3; d++)
            if (!isfinite(positions[i][d]))
                throw OpenMMException(string("BoltzmannGeneratorForce: ") + where + ": position " + to_string(i) + " is not finite");
}

string BoltzmannGeneratorModel::getWeights() {
    return state->model->save();
}

bg::AugmentedCouplingFlow& BoltzmannGeneratorModel::State::couplingFlow(const string& user) {
    try {
        return bg::couplingFlowOf(*model, user);
    }
    catch (const invalid_argument& e) {
        throw OpenMMException(string("BoltzmannGeneratorForce: ") + e.what());
    }
}
