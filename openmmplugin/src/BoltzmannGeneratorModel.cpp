#include "internal/BoltzmannGeneratorModel.h"
#include "internal/CheckpointBlock.h"
#include "SystemTarget.h"
#include "bg/AugmentedCouplingFlow.h"
#include "bg/FlowConfig.h"
#include "bg/MaximumLikelihoodMethod.h"
#include "bg/TrainingConfig.h"
#include "bg/TrainingMethodFactory.h"
#include "openmm/OpenMMException.h"
#include "openmm/serialization/XmlSerializer.h"
#include "openmm/internal/ContextImpl.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <random>
#include <sstream>

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

namespace {

const double BoltzmannConstant = 0.00831446261815324;   // kJ/(mol K)
const int64_t inferenceChunk = 256;                      // rows per flow pass without gradients

uint64_t seedFor(int seed) {
    if (seed != 0)
        return (uint64_t) (uint32_t) seed;
    random_device device;
    return ((uint64_t) device() << 32) ^ device();
}

double secondsSince(chrono::steady_clock::time_point start) {
    return chrono::duration<double>(chrono::steady_clock::now() - start).count();
}

} // namespace

/** The LibTorch side of the model (kept out of the header). */
class BoltzmannGeneratorModel::State {
public:
    bg::AugmentedCouplingFlow flow{nullptr};
    bg::TrainingConfig config;
    torch::Generator generator = at::detail::createCPUGenerator(0);
    std::unique_ptr<System> targetSystem;
    std::unique_ptr<SystemTarget> target;
    std::unique_ptr<bg::TrainingMethod> fab;
    std::unique_ptr<bg::SkipClipAdam> fabOptimizer, mlOptimizer;
    int64_t fabIterations = 0, mlUpdates = 0;
    // Optimiser state of maximum likelihood read from a checkpoint before that optimiser existed
    // (an archive's bytes), applied when trainOnSamples() creates it.
    std::string pendingMlOptimizer;
    // Flow proposals for flowMove(), valid while cacheVersion equals the parameter version.
    torch::Tensor cacheX, cacheLogQ, cacheLogPi;
    int64_t cacheNext = 0, cacheVersion = -1;

    torch::ScalarType dtype() const {
        return flow->getConfig().dtype == "float64" ? torch::kFloat64 : torch::kFloat32;
    }
};

BoltzmannGeneratorModel::BoltzmannGeneratorModel(const System& system, const BoltzmannGeneratorForce& force, const string& platformName)
        : system(system), platformName(platformName), state(new State()) {
    reset(force);
}

BoltzmannGeneratorModel::~BoltzmannGeneratorModel() {
}

void BoltzmannGeneratorModel::reset(const BoltzmannGeneratorForce& force) {
    const int n = force.getNumParticles();
    const int d = force.getDimension();
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
    const uint64_t seed = seedFor(force.getRandomNumberSeed());
    bg::AugmentedCouplingFlow flow{nullptr};
    try {
        if (force.hasFlow() && !force.getFlowWeights().empty())
            flow = bg::loadFlow(force.getFlowWeights());
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
            flow = bg::AugmentedCouplingFlow(flowConfig);
        }
    }
    catch (const OpenMMException&) {
        throw;
    }
    catch (const exception& e) {
        throw OpenMMException(string("BoltzmannGeneratorForce: cannot build the flow: ") + e.what());
    }
    const bg::FlowConfig& flowConfig = flow->getConfig();
    if (flowConfig.numParticles != n || flowConfig.dimension != d)
        throw OpenMMException("BoltzmannGeneratorForce: the flow models " + to_string(flowConfig.numParticles) + " particles in " +
                              to_string(flowConfig.dimension) + " dimensions, but the force has " + to_string(n) + " particles in " +
                              to_string(d) + (force.isPlanar() ? " (planar)" : ""));

    if (state->flow && (force.getParticles() != particles || d != getDimension() || force.getForceGroup() != forceGroup))
        throw OpenMMException("BoltzmannGeneratorForce: updateParametersInContext() cannot change the modelled particles, the planar "
                              "flag or the force group; create a new Context (or call reinitialize())");
    particles = force.getParticles();
    forceGroup = force.getForceGroup();
    kT = BoltzmannConstant * force.getTemperature();
    if (state->targetSystem == nullptr) {
        // The target is every other force; when the BG force has a group of its own (not 0), the
        // forces that share that group are left out as well (SystemTarget drops the BG force).
        state->targetSystem.reset(XmlSerializer::clone<System>(system));
        if (forceGroup != 0)
            for (int i = state->targetSystem->getNumForces() - 1; i >= 0; i--)
                if (state->targetSystem->getForce(i).getForceGroup() == forceGroup)
                    state->targetSystem->removeForce(i);
    }
    // Sampling and density evaluation go through the flow in chunks, so large requests (and
    // marginal densities, which repeat every configuration numDraws times) need bounded memory.
    flow->setInferenceBatchSize(inferenceChunk);
    state->flow = flow;
    state->config = config;
    state->generator = at::detail::createCPUGenerator(seed + 1);
    state->fab.reset();
    state->fabOptimizer.reset();
    state->mlOptimizer.reset();
    state->pendingMlOptimizer.clear();
    state->fabIterations = state->mlUpdates = 0;
    state->cacheVersion = -1;
    state->target.reset();
    parameterVersion++;
}

int BoltzmannGeneratorModel::getDimension() const {
    return state->flow->getConfig().dimension;
}

void BoltzmannGeneratorModel::refreshTarget(ContextImpl& context) {
    vector<Vec3> positions;
    context.getPositions(positions);
    if (state->target == nullptr) {
        state->target.reset(new SystemTarget(*state->targetSystem, kT / BoltzmannConstant, particles, positions, platformName, 1,
                                             getDimension(), {}, false));
    }
    else
        state->target->setHeldPositions(positions);
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

namespace {

torch::Tensor toTensor(const vector<Vec3>& positions, int n, int d) {
    const int64_t batch = positions.size() / n;
    torch::Tensor x = torch::empty({batch, n, d}, torch::kFloat64);
    double* data = x.data_ptr<double>();
    for (size_t i = 0; i < positions.size(); i++)
        for (int k = 0; k < d; k++)
            data[i * d + k] = positions[i][k];
    return x;
}

vector<double> toVector(const torch::Tensor& t) {
    torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat64).contiguous();
    return vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

} // namespace

BoltzmannGeneratorSamples BoltzmannGeneratorModel::sample(ContextImpl& context, int numSamples) {
    if (numSamples < 1)
        throw OpenMMException("BoltzmannGeneratorForce: sample() needs a positive number of samples, got " + to_string(numSamples));
    refreshTarget(context);
    torch::NoGradGuard noGrad;
    const int n = particles.size(), d = getDimension();
    bg::FlowSample s = state->flow->sample(numSamples, state->generator);
    torch::Tensor x = s.x.to(torch::kFloat64);
    torch::Tensor logPi = state->flow->augmentedTarget().logProb(s.a, s.x).to(torch::kFloat64);
    torch::Tensor logQ = s.logProb.to(torch::kFloat64);
    bg::EnergyEvaluation e = state->target->evaluate(x, false);
    torch::Tensor logW = torch::where(e.valid, -e.energy + logPi - logQ, torch::full_like(logQ, -numeric_limits<double>::infinity()));
    BoltzmannGeneratorSamples result;
    result.numSamples = numSamples;
    result.numParticles = n;
    result.positions.resize((size_t) numSamples * n);
    torch::Tensor xc = x.contiguous();
    const double* data = xc.data_ptr<double>();
    for (size_t i = 0; i < result.positions.size(); i++)
        result.positions[i] = Vec3(data[i * d], data[i * d + 1], d == 3 ? data[i * d + 2] : 0.0);
    result.logProb = toVector(logQ);
    result.logWeights = toVector(logW);
    result.energies = toVector(e.energy * kT);
    return result;
}

vector<double> BoltzmannGeneratorModel::computeLogProb(ContextImpl& context, const vector<Vec3>& positions, int numDraws) {
    checkPositions(positions, "computeLogProb()");
    if (numDraws < 1)
        throw OpenMMException("BoltzmannGeneratorForce: numDraws must be positive, got " + to_string(numDraws));
    torch::NoGradGuard noGrad;
    torch::Tensor x = toTensor(positions, particles.size(), getDimension()).to(state->dtype());
    return toVector(state->flow->marginalLogProb(x, numDraws, state->generator));
}

vector<double> BoltzmannGeneratorModel::computeEnergies(ContextImpl& context, const vector<Vec3>& positions) {
    checkPositions(positions, "computeEnergies()");
    refreshTarget(context);
    torch::Tensor x = toTensor(positions, particles.size(), getDimension());
    return toVector(state->target->evaluate(x, false).energy * kT);
}

vector<double> BoltzmannGeneratorModel::computeLogWeights(ContextImpl& context, const vector<Vec3>& positions, int numDraws) {
    vector<double> logQ = computeLogProb(context, positions, numDraws);
    vector<double> energies = computeEnergies(context, positions);
    vector<double> logW(logQ.size());
    for (size_t i = 0; i < logW.size(); i++)
        logW[i] = isfinite(energies[i]) && isfinite(logQ[i]) ? -energies[i] / kT - logQ[i] : -numeric_limits<double>::infinity();
    return logW;
}

BoltzmannGeneratorTrainingReport BoltzmannGeneratorModel::train(ContextImpl& context, int iterations) {
    if (iterations < 1)
        throw OpenMMException("BoltzmannGeneratorForce: train() needs a positive number of iterations, got " + to_string(iterations));
    const auto start = chrono::steady_clock::now();
    refreshTarget(context);
    ensureFab();
    BoltzmannGeneratorTrainingReport report = runSteps(*state->fab, *state->fabOptimizer, iterations);
    state->fabIterations += iterations;
    report.totalIterations = state->fabIterations;
    report.seconds = secondsSince(start);
    return report;
}

void BoltzmannGeneratorModel::ensureFab() {
    if (state->fab != nullptr)
        return;
    bg::TrainingMethodInputs inputs{state->flow, state->target.get(), torch::Tensor(), state->config};
    try {
        state->fab = bg::createTrainingMethod("fab", inputs);
    }
    catch (const exception& e) {
        throw OpenMMException(string("BoltzmannGeneratorForce: invalid FAB settings: ") + e.what());
    }
    state->fabOptimizer = bg::createOptimizer(state->flow, state->config, state->fab->updatesPerCall());
}

BoltzmannGeneratorTrainingReport BoltzmannGeneratorModel::runSteps(bg::TrainingMethod& method, bg::SkipClipAdam& optimizer, int iterations) {
    BoltzmannGeneratorTrainingReport report;
    double lossSum = 0.0;
    for (int i = 0; i < iterations; i++) {
        bg::StepStats stats = method.step(state->flow, optimizer, state->generator);
        parameterVersion++;
        report.iterations++;
        report.lastLoss = stats.loss;
        lossSum += stats.loss;
        report.skippedUpdates += stats.skipped;
        for (const auto& value : stats.extra)
            if (value.first == "ais_acceptance")
                report.aisAcceptance = value.second;
    }
    report.meanLoss = lossSum / iterations;
    return report;
}

BoltzmannGeneratorTrainingReport BoltzmannGeneratorModel::trainOnSamples(ContextImpl& context, const vector<Vec3>& positions, int iterations) {
    checkPositions(positions, "trainOnSamples()");
    if (iterations < 1)
        throw OpenMMException("BoltzmannGeneratorForce: trainOnSamples() needs a positive number of iterations, got " + to_string(iterations));
    const int64_t numSamples = positions.size() / particles.size();
    if (numSamples < state->config.batchSize)
        throw OpenMMException("BoltzmannGeneratorForce: trainOnSamples() got " + to_string(numSamples) +
                              " configurations, fewer than the batch size " + to_string(state->config.batchSize));
    const auto start = chrono::steady_clock::now();
    torch::Tensor data = toTensor(positions, particles.size(), getDimension());
    bg::MaximumLikelihoodMethod method(data, state->config, state->flow->getConfig().auxLossWeight);
    if (state->mlOptimizer == nullptr) {
        state->mlOptimizer = bg::createOptimizer(state->flow, state->config, method.callsPerEpoch());
        if (!state->pendingMlOptimizer.empty()) {
            istringstream bytes(state->pendingMlOptimizer);
            torch::serialize::InputArchive archive, optimizerArchive;
            archive.load_from(bytes);
            archive.read("mlOptimizer", optimizerArchive);
            state->mlOptimizer->load(optimizerArchive);
            state->pendingMlOptimizer.clear();
        }
    }
    BoltzmannGeneratorTrainingReport report = runSteps(method, *state->mlOptimizer, iterations);
    state->mlUpdates += iterations;
    report.totalIterations = state->mlUpdates;
    report.seconds = secondsSince(start);
    return report;
}

string BoltzmannGeneratorModel::getWeights() {
    return bg::saveFlow(state->flow);
}

namespace {

/** The Context's potential energy (kJ/mol) for the groups, +inf if it cannot be evaluated or is not finite. */
double contextEnergy(ContextImpl& context, int groups) {
    try {
        const double energy = context.calcForcesAndEnergy(false, true, groups);
        return isfinite(energy) ? energy : numeric_limits<double>::infinity();
    }
    catch (const exception&) {
        return numeric_limits<double>::infinity();
    }
}

} // namespace

FlowMoveResult BoltzmannGeneratorModel::flowMove(ContextImpl& context, vector<Vec3>& positions, int proposalBatch, int groups,
                                                 bool hasVirtualSites) {
    torch::NoGradGuard noGrad;
    const int n = particles.size(), d = getDimension();
    const torch::ScalarType dtype = state->dtype();
    bg::AugmentedCouplingFlow& flow = state->flow;
    const double inf = numeric_limits<double>::infinity();

    // The current state, centred; a ~ pi(a|x) is drawn afresh (a Gibbs step on a).
    vector<Vec3> current(n);
    for (int i = 0; i < n; i++)
        current[i] = positions[particles[i]];
    torch::Tensor x = toTensor(current, n, d);
    torch::Tensor centre = x.mean(1, true);
    torch::Tensor xc = (x - centre).to(dtype);
    torch::Tensor a = flow->augmentedTarget().sample(xc, flow->getConfig().numAugmented, state->generator);
    const double logQ = flow->logProb(xc, a).item<double>();
    const double logPi = flow->augmentedTarget().logProb(a, xc).item<double>();

    // The proposal, from a cache of flow samples drawn with the current parameters. Their log q is
    // evaluated in the same (inverse) direction as the current state's, so both sides of the
    // acceptance ratio carry the same rounding.
    if (state->cacheVersion != parameterVersion || state->cacheNext >= state->cacheX.size(0)) {
        bg::FlowSample s = flow->sample(max(1, proposalBatch), state->generator);
        state->cacheX = s.x.to(torch::kFloat64);
        state->cacheLogQ = flow->logProb(s.x, s.a).to(torch::kFloat64);
        state->cacheLogPi = flow->augmentedTarget().logProb(s.a, s.x).to(torch::kFloat64);
        state->cacheNext = 0;
        state->cacheVersion = parameterVersion;
    }
    const int64_t k = state->cacheNext++;
    torch::Tensor proposal = (state->cacheX.slice(0, k, k + 1) + centre).contiguous();
    const double proposalLogQ = state->cacheLogQ[k].item<double>();
    const double proposalLogPi = state->cacheLogPi[k].item<double>();

    // Energies from the Context itself (its box, parameters and the integration force groups), so
    // the move leaves exactly the distribution that the dynamics sample invariant.
    const double energy = contextEnergy(context, groups);
    vector<Vec3> proposed = positions;
    const double* data = proposal.data_ptr<double>();
    bool finite = true;
    for (int i = 0; i < n; i++) {
        proposed[particles[i]] = Vec3(data[i * d], data[i * d + 1], d == 3 ? data[i * d + 2] : 0.0);
        for (int c = 0; c < 3; c++)
            finite &= isfinite(proposed[particles[i]][c]);
    }
    double proposalEnergy = inf;
    if (finite) {
        context.setPositions(proposed);
        if (hasVirtualSites)
            context.computeVirtualSites();
        proposalEnergy = contextEnergy(context, groups);
    }
    const double logW = -energy / kT + logPi - logQ;
    const double logWProposal = -proposalEnergy / kT + proposalLogPi - proposalLogQ;
    const double logUniform = log(torch::rand({1}, state->generator, torch::kFloat64).item<double>());
    FlowMoveResult result;
    const bool proposalValid = isfinite(logWProposal), currentValid = isfinite(logW);
    result.proposalLogWeight = proposalValid ? logWProposal : -inf;
    result.accepted = proposalValid && (!currentValid || logUniform < logWProposal - logW);
    if (result.accepted)
        positions = proposed;
    else if (finite) {
        context.setPositions(positions);   // restore
        if (hasVirtualSites)
            context.computeVirtualSites();
    }
    return result;
}

void BoltzmannGeneratorModel::saveState(ostream& stream) {
    torch::serialize::OutputArchive archive, flowArchive;
    state->flow->save(flowArchive);
    archive.write("flow", flowArchive);
    archive.write("generator", state->generator.get_state());
    archive.write("counters", torch::tensor({state->fabIterations, state->mlUpdates, state->cacheNext,
                                             int64_t(state->cacheVersion == parameterVersion ? 1 : 0),
                                             int64_t(state->fab != nullptr ? 1 : 0), int64_t(state->mlOptimizer != nullptr ? 1 : 0)},
                                            torch::kInt64));
    if (state->cacheVersion == parameterVersion) {
        archive.write("cacheX", state->cacheX);
        archive.write("cacheLogQ", state->cacheLogQ);
        archive.write("cacheLogPi", state->cacheLogPi);
    }
    if (state->fab != nullptr) {
        torch::serialize::OutputArchive fabArchive, optimizerArchive;
        state->fab->save(fabArchive);
        state->fabOptimizer->save(optimizerArchive);
        archive.write("fab", fabArchive);
        archive.write("fabOptimizer", optimizerArchive);
    }
    if (state->mlOptimizer != nullptr) {
        torch::serialize::OutputArchive optimizerArchive;
        state->mlOptimizer->save(optimizerArchive);
        archive.write("mlOptimizer", optimizerArchive);
    }
    ostringstream bytes;
    archive.save_to(bytes);
    writeCheckpointBlock(stream, bytes.str());
}

void BoltzmannGeneratorModel::loadState(ContextImpl& context, istream& stream) {
    const string data = readCheckpointBlock(stream, "flow state");
    try {
        istringstream bytes(data);
        torch::serialize::InputArchive archive, flowArchive;
        archive.load_from(bytes);
        archive.read("flow", flowArchive);
        state->flow->load(flowArchive);
        torch::Tensor generatorState, counters;
        archive.read("generator", generatorState);
        state->generator.set_state(generatorState);
        archive.read("counters", counters);
        state->fabIterations = counters[0].item<int64_t>();
        state->mlUpdates = counters[1].item<int64_t>();
        parameterVersion++;
        state->cacheVersion = -1;
        if (counters[3].item<int64_t>() != 0) {
            archive.read("cacheX", state->cacheX);
            archive.read("cacheLogQ", state->cacheLogQ);
            archive.read("cacheLogPi", state->cacheLogPi);
            state->cacheNext = counters[2].item<int64_t>();
            state->cacheVersion = parameterVersion;
        }
        if (counters[4].item<int64_t>() != 0) {
            if (state->fab == nullptr) {
                refreshTarget(context);
                ensureFab();
            }
            torch::serialize::InputArchive fabArchive, optimizerArchive;
            archive.read("fab", fabArchive);
            archive.read("fabOptimizer", optimizerArchive);
            state->fab->load(fabArchive);
            state->fabOptimizer->load(optimizerArchive);
        }
        else {
            state->fab.reset();
            state->fabOptimizer.reset();
        }
        state->pendingMlOptimizer.clear();
        if (counters[5].item<int64_t>() == 0)
            state->mlOptimizer.reset();
        else if (state->mlOptimizer != nullptr) {
            torch::serialize::InputArchive optimizerArchive;
            archive.read("mlOptimizer", optimizerArchive);
            state->mlOptimizer->load(optimizerArchive);
        }
        else
            state->pendingMlOptimizer = data;
    }
    catch (const OpenMMException&) {
        throw;
    }
    catch (const exception& e) {
        throw OpenMMException(string("BoltzmannGeneratorIntegrator: cannot read the flow state of the checkpoint: ") + e.what());
    }
}
