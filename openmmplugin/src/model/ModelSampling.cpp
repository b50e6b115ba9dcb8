// Samples, densities, importance weights and target energies of the per-Context model.

#include "internal/BoltzmannGeneratorModelState.h"
#include "openmm/OpenMMException.h"
#include "openmm/internal/ContextImpl.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <unistd.h>

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

namespace {

const double minusInfinity = -numeric_limits<double>::infinity();

/** The machine's physical memory in bytes (0 if unknown). */
double physicalMemoryBytes() {
    const long pages = sysconf(_SC_PHYS_PAGES), pageSize = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && pageSize > 0 ? double(pages) * double(pageSize) : 0.0;
}

/** Non-finite log densities (NaN from overflow, +inf) become -inf: such a configuration has no density. */
torch::Tensor finiteOrMinusInfinity(const torch::Tensor& logQ) {
    return torch::where(torch::isfinite(logQ), logQ, torch::full_like(logQ, minusInfinity));
}

}   // namespace

BoltzmannGeneratorSamples BoltzmannGeneratorModel::sample(ContextImpl& context, int numSamples, int weightDraws) {
    if (numSamples < 1)
        throw OpenMMException("BoltzmannGeneratorForce: sample() needs a positive number of samples, got " + to_string(numSamples));
    if (weightDraws < 1)
        throw OpenMMException("BoltzmannGeneratorForce: sample() needs a positive number of weight draws, got " + to_string(weightDraws));
    const int n = particles.size(), d = getDimension();
    // x and the augmented variables (E-ACF) in float64, a few copies of them, and the results (the
    // flow's own work is done in chunks of State::inferenceChunk rows).
    const int numAugmented = state->isCnf() ? 0 : state->couplingFlow("sample()")->getConfig().numAugmented;
    const double bytesPerSample = 8.0 * n * d * (numAugmented + 1) * 4 + 24.0 * n + 32.0;
    const double memory = physicalMemoryBytes();
    if (memory > 0 && bytesPerSample * numSamples > 0.5 * memory)
        throw OpenMMException("BoltzmannGeneratorForce: sample(): " + to_string(numSamples) + " samples of " + to_string(n) +
                              " particles need about " + to_string(int64_t(bytesPerSample * numSamples / (1 << 30))) +
                              " GiB, more than half of this machine's memory (" + to_string(int64_t(memory / (1 << 30))) +
                              " GiB); draw them in smaller batches");
    refreshTarget(context);
    torch::NoGradGuard noGrad;
    // E-ACF: log w = -u + log pi(a|x) - log q(x, a); E-CNF: log w = -u - log q(x) (no a, log pi = 0).
    bg::ModelSample s = sampleModel(numSamples);
    torch::Tensor logQ = s.logQ.to(torch::kFloat64);
    torch::Tensor logPi = s.logAugmented.defined() ? s.logAugmented.to(torch::kFloat64) : torch::zeros_like(logQ);
    torch::Tensor x = state->centredTarget->placeAtCentre(s.x);
    bg::EnergyEvaluation e = state->target->evaluate(x, false);
    // With M > 1 draws of a (E-ACF): log qhat(x) over the sample's own a and M - 1 new ones (bg::multiDrawLogProposal).
    torch::Tensor logW = weightDraws > 1 && s.logAugmented.defined()
                                 ? -e.energy - bg::multiDrawLogProposal(*state->model, s, weightDraws, state->generator).to(torch::kCPU)
                                 : -e.energy + logPi - logQ;
    logW = torch::where(e.valid & torch::isfinite(logW), logW, torch::full_like(logQ, minusInfinity));
    BoltzmannGeneratorSamples result;
    result.numSamples = numSamples;
    result.numParticles = n;
    result.positions.resize((size_t) numSamples * n);
    torch::Tensor xc = x.contiguous();
    const double* data = xc.data_ptr<double>();
    for (size_t i = 0; i < result.positions.size(); i++)
        result.positions[i] = Vec3(data[i * d], data[i * d + 1], d == 3 ? data[i * d + 2] : 0.0);
    result.logProb = tensorToVector(logQ);
    result.logWeights = tensorToVector(logW);
    result.energies = tensorToVector(e.energy * kT);
    return result;
}

vector<double> BoltzmannGeneratorModel::computeLogProb(ContextImpl& context, const vector<Vec3>& positions, int numDraws) {
    checkPositions(positions, "computeLogProb()");
    if (numDraws < 1)
        throw OpenMMException("BoltzmannGeneratorForce: numDraws must be positive, got " + to_string(numDraws));
    torch::NoGradGuard noGrad;
    torch::Tensor x = positionsToTensor(positions, particles.size(), getDimension());
    // Centre in float64 first, so that far-away configurations lose no precision in the flow's dtype.
    x = (x - x.mean(1, true)).to(state->dtype());
    torch::Tensor logQ;
    try {
        if (!state->isCnf())   // the E-ACF chunks its own passes (its inference batch size)
            logQ = state->model->marginalLogProb(x, numDraws, state->generator);
        else {
            vector<torch::Tensor> parts;
            for (const torch::Tensor& chunk : x.split(State::inferenceChunk))
                parts.push_back(state->model->marginalLogProb(chunk, numDraws, state->generator));
            logQ = torch::cat(parts);
        }
    }
    catch (const runtime_error& e) {   // the E-CNF's ODE solver (step limit, non-finite field)
        throw OpenMMException(string("BoltzmannGeneratorForce: computeLogProb(): ") + e.what());
    }
    return tensorToVector(finiteOrMinusInfinity(logQ.to(torch::kFloat64)));
}

bg::ModelSample BoltzmannGeneratorModel::sampleModel(int64_t numSamples) {
    try {
        if (!state->isCnf() || numSamples <= State::inferenceChunk)   // the E-ACF chunks its own passes
            return state->model->sample(numSamples, state->generator);
        bg::ModelSample s;
        vector<torch::Tensor> x, logQ;
        for (int64_t start = 0; start < numSamples; start += State::inferenceChunk) {
            bg::ModelSample part = state->model->sample(min(State::inferenceChunk, numSamples - start), state->generator);
            x.push_back(part.x);
            logQ.push_back(part.logQ);
        }
        s.x = torch::cat(x);
        s.logQ = torch::cat(logQ);
        return s;
    }
    catch (const runtime_error& e) {   // the E-CNF's ODE solver (step limit, non-finite field)
        throw OpenMMException(string("BoltzmannGeneratorForce: sample(): ") + e.what());
    }
}

vector<double> BoltzmannGeneratorModel::computeEnergies(ContextImpl& context, const vector<Vec3>& positions) {
    checkPositions(positions, "computeEnergies()");
    refreshTarget(context);
    torch::Tensor x = positionsToTensor(positions, particles.size(), getDimension());
    return tensorToVector(state->target->evaluate(x, false).energy * kT);
}

vector<double> BoltzmannGeneratorModel::computeLogWeights(ContextImpl& context, const vector<Vec3>& positions, int numDraws) {
    vector<double> logQ = computeLogProb(context, positions, numDraws);
    vector<double> energies = computeEnergies(context, positions);
    vector<double> logW(logQ.size());
    for (size_t i = 0; i < logW.size(); i++)
        logW[i] = isfinite(energies[i]) && isfinite(logQ[i]) ? -energies[i] / kT - logQ[i] : minusInfinity;
    return logW;
}
