// Training of the per-Context model: FAB against the (centred) target, maximum likelihood on samples.

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

}   // namespace

BoltzmannGeneratorTrainingReport BoltzmannGeneratorModel::train(ContextImpl& context, int iterations) {
    if (iterations < 1)
        throw OpenMMException("BoltzmannGeneratorForce: train() needs a positive number of iterations, got " + to_string(iterations));
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
    bg::TrainingMethodInputs inputs{state->flow, state->centredTarget.get(), torch::Tensor(), state->config};
    try {
        state->fab = bg::createTrainingMethod("fab", inputs);
    }
    catch (const exception& e) {
        throw OpenMMException(string("BoltzmannGeneratorForce: invalid FAB settings: ") + e.what());
    }
    if (state->distributed)
        distributeMethod(*state->fab, state->distributed, "train()");
    state->fabOptimizer = bg::createOptimizer(state->flow, state->config, state->fab->updatesPerCall());
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
        return bg::reduceStepStats(context, method.step(state->flow, optimizer, state->generatorFor(method)));
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
                                                 : method.step(state->flow, optimizer, state->generator);
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
    state->mlOptimizer = bg::createOptimizer(state->flow, state->config, updatesPerEpoch);
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
    const int64_t numSamples = positions.size() / particles.size();
    if (numSamples < state->config.batchSize)
        throw OpenMMException("BoltzmannGeneratorForce: trainOnSamples() got " + to_string(numSamples) +
                              " configurations, fewer than the batch size " + to_string(state->config.batchSize));
    const auto start = chrono::steady_clock::now();
    torch::Tensor data = positionsToTensor(positions, particles.size(), getDimension());
    data = data - data.mean(1, true);   // the flow models configurations relative to their centre
    bg::MaximumLikelihoodMethod method(data, state->config, state->flow->getConfig().auxLossWeight);
    joinDistributedRun();
    if (state->distributed)
        distributeMethod(method, state->distributed, "trainOnSamples()");
    ensureMlOptimizer(method.callsPerEpoch());
    BoltzmannGeneratorTrainingReport report = runSteps(method, *state->mlOptimizer, iterations);
    state->mlUpdates += iterations;
    report.totalIterations = state->mlUpdates;
    report.seconds = secondsSince(start);
    return report;
}
