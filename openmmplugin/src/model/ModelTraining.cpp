// Training of the per-Context model: FAB against the (centred) target (E-ACF), maximum likelihood (E-ACF)
// or flow matching (E-CNF) on samples.

#include "bg/DistributedTraining.h"
#include "bg/MaximumLikelihoodMethod.h"
#include "bg/TrainingMethodFactory.h"
#include "internal/BoltzmannGeneratorModelState.h"
#include "openmm/OpenMMException.h"
#include "openmm/internal/ContextImpl.h"

#include <torch/torch.h>

#include <chrono>
#include <sstream>

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

namespace {

double secondsSince(chrono::steady_clock::time_point start) {
    return chrono::duration<double>(chrono::steady_clock::now() - start).count();
}

/** method.setDistributed(context), its refusals (e.g. too few samples for the global batch) as OpenMMExceptions. */
void distributeMethod(bg::TrainingMethod& method, const shared_ptr<bg::DistributedContext>& context, const char* where) {
    try {
        method.setDistributed(context);
    }
    catch (const invalid_argument& e) {
        throw OpenMMException(string("BoltzmannGeneratorForce: ") + where + ": " + e.what());
    }
}

/**
 * The method trainOnSamples() runs on centred data [n, N, D] (nm): maximum likelihood for the E-ACF,
 * flow matching ("fm", the FlowMatchingSettings under "fm" of the training settings) for the E-CNF.
 */
unique_ptr<bg::TrainingMethod> sampleTrainingMethod(BoltzmannGeneratorModel::State& state, const torch::Tensor& data) {
    if (!state.isCnf())
        return unique_ptr<bg::TrainingMethod>(new bg::MaximumLikelihoodMethod(
                data, state.config, state.couplingFlow("trainOnSamples()")->getConfig().auxLossWeight));
    bg::TrainingMethodInputs inputs{bg::AugmentedCouplingFlow{nullptr}, nullptr, data, state.config, state.model};
    try {
        return bg::createTrainingMethod("fm", inputs);
    }
    catch (const exception& e) {
        throw OpenMMException(string("BoltzmannGeneratorForce: trainOnSamples(): invalid flow-matching settings: ") + e.what());
    }
}

}   // namespace

BoltzmannGeneratorTrainingReport BoltzmannGeneratorModel::train(ContextImpl& context, int iterations) {
    if (iterations < 1)
        throw OpenMMException("BoltzmannGeneratorForce: train() needs a positive number of iterations, got " + to_string(iterations));
    if (state->isCnf())
        throw OpenMMException("BoltzmannGeneratorForce: train() runs FAB, which needs the E-ACF (model 'eacf'), but this force's "
                              "model is the E-CNF ('ecnf'); train the E-CNF by flow matching with trainOnSamples()");
    const auto start = chrono::steady_clock::now();
    refreshTarget(context);
    joinDistributedRun();
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
    // FAB's AIS runs in the flow's zero-centre coordinates; the centred target places every
    // configuration at the modelled particles' centre in the Context.
    bg::TrainingMethodInputs inputs{state->couplingFlow("FAB (train())"), state->centredTarget.get(), torch::Tensor(), state->config};
    try {
        state->fab = bg::createTrainingMethod("fab", inputs);
    }
    catch (const exception& e) {
        throw OpenMMException(string("BoltzmannGeneratorForce: invalid FAB settings: ") + e.what());
    }
    if (state->distributed)
        distributeMethod(*state->fab, state->distributed, "train()");
    state->fabOptimizer = bg::createOptimizer(*state->model, state->config, state->fab->updatesPerCall());
    if (state->distributed)
        bg::averageGradientsOverRanks(*state->fabOptimizer, state->distributed);
}

/**
 * One step in a data-parallel run: the method's own generator, the figures reduced over the ranks
 * (the loss as their mean), and a failed collective (a peer died or hung) as an OpenMMException.
 */
bg::StepStats BoltzmannGeneratorModel::distributedStep(bg::TrainingMethod& method, bg::SkipClipAdam& optimizer,
                                                       bg::DistributedContext& context) {
    try {
        return bg::reduceStepStats(context, method.step(*state->model, optimizer, state->generatorFor(method)));
    }
    catch (const OpenMMException&) {
        throw;
    }
    catch (const runtime_error& e) {
        throw OpenMMException(string("BoltzmannGeneratorForce: data-parallel training on rank ") + to_string(context.rank()) +
                              " failed: " + e.what());
    }
}

BoltzmannGeneratorTrainingReport BoltzmannGeneratorModel::runSteps(bg::TrainingMethod& method, bg::SkipClipAdam& optimizer,
                                                                   int iterations) {
    BoltzmannGeneratorTrainingReport report;
    double lossSum = 0.0;
    for (int i = 0; i < iterations; i++) {
        bg::StepStats stats = state->distributed ? distributedStep(method, optimizer, *state->distributed)
                                                 : method.step(*state->model, optimizer, state->generator);
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

void BoltzmannGeneratorModel::ensureMlOptimizer(int64_t updatesPerEpoch) {
    if (state->mlOptimizer != nullptr)
        return;
    state->mlOptimizer = bg::createOptimizer(*state->model, state->config, updatesPerEpoch);
    if (state->distributed)
        bg::averageGradientsOverRanks(*state->mlOptimizer, state->distributed);
    if (state->pendingMlOptimizer.empty())
        return;
    istringstream bytes(state->pendingMlOptimizer);
    torch::serialize::InputArchive archive, optimizerArchive;
    archive.load_from(bytes);
    archive.read("mlOptimizer", optimizerArchive);
    state->mlOptimizer->load(optimizerArchive);
    state->pendingMlOptimizer.clear();
}

BoltzmannGeneratorTrainingReport BoltzmannGeneratorModel::trainOnSamples(ContextImpl& context, const vector<Vec3>& positions,
                                                                         int iterations) {
    checkPositions(positions, "trainOnSamples()");
    if (iterations < 1)
        throw OpenMMException("BoltzmannGeneratorForce: trainOnSamples() needs a positive number of iterations, got " +
                              to_string(iterations));
    if (state->isCnf() && distributedTraining)
        throw OpenMMException("BoltzmannGeneratorForce: trainOnSamples() trains the E-CNF by flow matching, which runs in one process "
                              "only; turn distributed training off (setDistributedTraining(false)) for the E-CNF");
    const int64_t numSamples = positions.size() / particles.size();
    if (numSamples < state->config.batchSize)
        throw OpenMMException("BoltzmannGeneratorForce: trainOnSamples() got " + to_string(numSamples) +
                              " configurations, fewer than the batch size " + to_string(state->config.batchSize));
    const auto start = chrono::steady_clock::now();
    torch::Tensor data = positionsToTensor(positions, particles.size(), getDimension());
    data = data - data.mean(1, true);   // the flow models configurations relative to their centre
    unique_ptr<bg::TrainingMethod> method = sampleTrainingMethod(*state, data);
    joinDistributedRun();
    if (state->distributed)
        distributeMethod(*method, state->distributed, "trainOnSamples()");
    ensureMlOptimizer(method->callsPerEpoch());
    BoltzmannGeneratorTrainingReport report = runSteps(*method, *state->mlOptimizer, iterations);
    state->mlUpdates += iterations;
    report.totalIterations = state->mlUpdates;
    report.seconds = secondsSince(start);
    return report;
}
