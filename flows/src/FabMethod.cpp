#include "bg/FabMethod.h"

#include "bg/DistributedContext.h"
#include "bg/MaskedLogProb.h"
#include "bg/Metrics.h"
#include "bg/MicroBatching.h"
#include "bg/ModelAdapters.h"
#include "TrainingInterval.h"

#include <torch/torch.h>

#include <ATen/Parallel.h>
#include <ATen/core/Generator.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cmath>
#include <exception>
#include <iomanip>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace bg {

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

/** CPU time of the calling thread (s): what a phase cost, whatever else runs on the machine. */
double threadCpuSeconds() {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

/** The mean of per-distribution figures (acceptance rates, step sizes); 0 for none. */
double meanOf(const std::vector<double>& values) {
    double mean = 0.0;
    for (double v : values)
        mean += v / double(values.size());
    return mean;
}

/**
 * "filling the replay buffer: AIS pass 3 of 9, 00:01:10, ETA 00:03:00, HMC acceptance 0.62, mean
 * step size 0.012"; the ETA leaves out the first pass, which also searches the HMC step sizes.
 */
std::string fillProgressLine(int pass, int passes, double seconds, double firstPassSeconds, const AisResult& r,
                             const std::vector<double>& stepSizes) {
    std::ostringstream line;
    line << "filling the replay buffer: AIS pass " << pass << " of " << passes << ", " << formatDuration(seconds) << ", ETA "
         << formatDuration((pass > 1 ? (seconds - firstPassSeconds) / (pass - 1) : seconds) * std::max(0, passes - pass));
    if (!r.acceptance.empty())
        line << ", HMC acceptance " << std::setprecision(2) << meanOf(r.acceptance) << ", mean step size " << std::setprecision(3)
             << meanOf(stepSizes);
    return line.str();
}

} // namespace

// ----------------------------------------------------------------------------------------------
// Loss

FabLossTerms fabLoss(AugmentedCouplingFlow& flow, const FlowTargetDensity& density, const torch::Tensor& z,
                     const torch::Tensor& logQOld, double weightClip, double normaliser) {
    auto [x, a] = density.unflatten(z);
    MaskedLogProb m = maskedLogProb(flow, x, a);
    FabLossTerms terms;
    terms.logQ = m.logQ.to(torch::kCPU, torch::kFloat64);
    terms.delta = -(terms.logQ - logQOld.to(torch::kCPU, torch::kFloat64));
    if (m.kept.numel() == 0) {
        // Nothing to learn from; a zero loss that still reaches every parameter.
        terms.loss = torch::zeros({}, m.logQ.options());
        for (auto& p : flow->parameters())
            terms.loss = terms.loss + 0.0 * p.sum();
        return terms;
    }
    torch::Tensor weight =
            terms.delta.index_select(0, m.kept.to(torch::kCPU)).exp().clamp_max(weightClip).to(m.keptLogQ.device(), m.keptLogQ.dtype());
    terms.loss = -(weight * m.keptLogQ).sum() / normaliser;
    return terms;
}

// ----------------------------------------------------------------------------------------------
// FabMethod

/**
 * A Target that forwards to another, regularises its energies, restricts them to the settings'
 * chiral handedness and accumulates the wall time spent in it.
 */
class FabMethod::TimedTarget : public Target {
public:
    TimedTarget(Target& inner, const FabSettings& settings)
            : inner(inner), regularisation(settings.energyRegularisation), chiralCentres(settings.chiralCentres) {
        checkChiralCentres(chiralCentres, inner.numParticles(), inner.dimension(), "FabMethod");
    }
    int numParticles() const override {
        return inner.numParticles();
    }
    int dimension() const override {
        return inner.dimension();
    }
    EnergyEvaluation evaluate(const torch::Tensor& x, bool computeForces) override {
        auto start = Clock::now();
        EnergyEvaluation result = inner.evaluate(x, computeForces);
        regularisation.apply(result);
        restrictToNegativeImpropers(result, x, chiralCentres);
        seconds += secondsSince(start);
        return result;
    }
    double seconds = 0.0;

private:
    Target& inner;
    EnergyRegularisation regularisation;
    std::vector<ChiralCentre> chiralCentres;
};

namespace {

AisSettings trainingAis(AisSettings ais) {
    ais.alpha = 2.0;
    return ais;
}

} // namespace

FabMethod::FabMethod(AugmentedCouplingFlow flow, Target& target, const FabSettings& fabSettings)
        : settings((fabSettings.validate(), fabSettings)), timedTarget(std::make_unique<TimedTarget>(target, fabSettings)),
          density(flow, *timedTarget, fabSettings.maxEvaluationBatch), sampler(trainingAis(fabSettings.ais)) {}

FabMethod::~FabMethod() = default;

std::unique_ptr<PrioritisedReplayBuffer> FabMethod::makeBuffer() const {
    const int64_t b = settings.batchSize;
    return std::make_unique<PrioritisedReplayBuffer>(density.dimension(), settings.bufferMaxBatches * b, settings.bufferMinBatches * b);
}

FlowTargetDensity& FabMethod::refreshSnapshot(AugmentedCouplingFlow& flow) {
    torch::NoGradGuard noGrad;
    if (!snapshot) {
        // Building a flow draws initial weights from the default generator: leave its stream as it was.
        at::Generator defaultGenerator = at::detail::getDefaultCPUGenerator();
        const torch::Tensor state = defaultGenerator.get_state();
        snapshot = AugmentedCouplingFlow(flow->getConfig());
        defaultGenerator.set_state(state);
        for (auto& p : snapshot->parameters())
            p.requires_grad_(false);
        snapshotDensity = std::make_unique<FlowTargetDensity>(snapshot, *timedTarget, settings.maxEvaluationBatch);
    }
    if (snapshot->device() != flow->device())
        snapshot->to(flow->device());
    snapshot->setGradientCheckpointing(flow->getGradientCheckpointing());
    snapshot->setInferenceBatchSize(flow->getInferenceBatchSize());
    const std::vector<torch::Tensor> from = flow->parameters(), to = snapshot->parameters();
    const std::vector<torch::Tensor> fromBuffers = flow->buffers(), toBuffers = snapshot->buffers();
    if (from.size() != to.size() || fromBuffers.size() != toBuffers.size())
        throw std::logic_error("FabMethod: the flow's structure differs from its AIS snapshot");
    for (size_t i = 0; i < from.size(); i++)
        to[i].copy_(from[i]);
    for (size_t i = 0; i < fromBuffers.size(); i++)
        toBuffers[i].copy_(fromBuffers[i]);
    return *snapshotDensity;
}

void FabMethod::fillBuffer(torch::Generator& generator) {
    const int64_t b = settings.batchSize;
    buffer = makeBuffer();
    FlowTargetDensity& density = *snapshotDensity;   // refreshed by step() just before
    // bufferMinBatches + 1 passes with the initial parameters (which also tunes the step sizes);
    // more only if invalid samples kept entries out.
    // In a data-parallel run the ranks pass the loop together (the AIS passes pool their acceptance).
    auto allReady = [&] {
        return distributed ? !distributed->any(!buffer->ready(), DistributedContext::Channel::Sampler) : buffer->ready();
    };
    int passes = 0;
    bool ready = false;
    const auto start = Clock::now();
    double firstPassSeconds = 0.0;
    while (!ready || passes <= settings.bufferMinBatches) {
        AisResult r = sampler.run(density, b, generator);
        buffer->add(r.z, r.logW, r.logQ);
        ready = allReady();
        if (passes == 0)
            firstPassSeconds = secondsSince(start);
        if (progress)
            progress(fillProgressLine(passes + 1, settings.bufferMinBatches + 1, secondsSince(start), firstPassSeconds, r,
                                      sampler.getStepSizes()));
        if (++passes > 4 * (settings.bufferMinBatches + 1) && !ready)
            throw std::runtime_error("FabMethod: AIS keeps producing invalid samples; the buffer could not be filled (" +
                                     std::to_string(buffer->size()) + " valid entries after " + std::to_string(passes) + " passes)");
    }
}

void FabMethod::setDistributed(std::shared_ptr<DistributedContext> context) {
    if (!context)
        throw std::invalid_argument("FabMethod::setDistributed: no context");
    distributed = std::move(context);
    DistributedContext* pool = distributed.get();
    sampler.setAcceptanceReducer([pool](double acceptedRows, double rows) {
        const std::vector<double> sums = pool->sum({acceptedRows, rows}, DistributedContext::Channel::Sampler);
        return std::make_pair(sums[0], sums[1]);
    });
}

StepStats FabMethod::step(GenerativeModel& model, SkipClipAdam& optimizer, torch::Generator& generator) {
    return step(couplingFlowOf(model, "FAB (method 'fab')"), optimizer, generator);
}

NamedValues FabMethod::evaluate(GenerativeModel& model, torch::Generator& generator) {
    return evaluate(couplingFlowOf(model, "FAB (method 'fab')"), generator);
}

StepStats FabMethod::step(AugmentedCouplingFlow& flow, SkipClipAdam& optimizer, torch::Generator& generator) {
    StepStats stats;
    const auto iterationStart = Clock::now();
    timedTarget->seconds = 0.0;
    double aisSeconds = 0.0;
    // The AIS pass uses the parameters from before this iteration's updates (model-spec 11.5): a
    // snapshot, run either in a second thread while this one takes the updates, or before them.
    FlowTargetDensity& aisDensity = refreshSnapshot(flow);
    if (!buffer) {
        auto fillStart = Clock::now();
        fillBuffer(generator);
        aisSeconds += secondsSince(fillStart);
    }
    const int64_t b = settings.batchSize;
    std::vector<BufferBatch> batches = buffer->sample(settings.updatesPerIteration, b, generator);
    AisResult ais;
    double aisCpuSeconds = 0.0;
    auto runAis = [&] {
        auto aisStart = Clock::now();
        const double cpuStart = threadCpuSeconds();
        ais = sampler.run(aisDensity, b, generator);
        aisCpuSeconds = threadCpuSeconds() - cpuStart;
        aisSeconds += secondsSince(aisStart);
    };
    const int threads = at::get_num_threads();
    const int phaseThreads = std::max(1, threads / 2);
    std::thread worker;
    std::exception_ptr aisError;
    struct Join {
        std::thread& thread;
        int restoreThreads;
        ~Join() {
            if (thread.joinable())
                thread.join();
            if (at::get_num_threads() != restoreThreads)
                at::set_num_threads(restoreThreads);
        }
    } join{worker, threads};
    if (settings.concurrentAis) {
        if (phaseThreads != threads)
            at::set_num_threads(phaseThreads);
        worker = std::thread([&] {
            try {
                at::set_num_threads(phaseThreads);
                runAis();
            } catch (...) {
                aisError = std::current_exception();
            }
        });
    } else
        runAis();

    auto updateStart = Clock::now();
    const double updateCpuStart = threadCpuSeconds();
    const double auxWeight = flow->getConfig().auxLossWeight;
    std::vector<torch::Tensor> indices, deltas, logQs;
    double lossSum = 0.0, normSum = 0.0;
    int64_t lossCount = 0;
    flow->train();
    for (const BufferBatch& batch : batches) {
        optimizer.zeroGrad();
        std::vector<torch::Tensor> chunkDelta, chunkLogQ;
        torch::Tensor loss = backwardInChunks(b, settings.maxRowsPerPass, [&](int64_t start, int64_t length) {
            FabLossTerms terms = fabLoss(flow, density, batch.z.narrow(0, start, length), batch.logQOld.narrow(0, start, length),
                                         settings.weightClip, double(b));
            chunkDelta.push_back(terms.delta);
            chunkLogQ.push_back(terms.logQ);
            torch::Tensor chunk = terms.loss;
            if (auxWeight != 0.0)
                chunk = chunk + auxWeight * flow->auxLoss() * (double(length) / double(b));
            return chunk;
        });
        torch::Tensor delta = torch::cat(chunkDelta), logQ = torch::cat(chunkLogQ);
        stats.masked += (~torch::isfinite(logQ)).sum().item<int64_t>();
        stats.samples += b;
        StepReport report = optimizer.step();
        stats.updates++;
        stats.skipped += report.skipped ? 1 : 0;
        stats.clipped += report.clipped ? 1 : 0;
        if (!report.skipped)
            stats.learningRate = report.learningRate;
        const double value = loss.defined() ? loss.item<double>() : NAN;
        if (std::isfinite(value)) {
            lossSum += value;
            lossCount++;
        }
        if (std::isfinite(report.gradientNorm))
            normSum += report.gradientNorm;
        indices.push_back(batch.indices);
        deltas.push_back(delta);
        logQs.push_back(logQ);
    }
    optimizer.zeroGrad();
    const double updateSeconds = secondsSince(updateStart);
    const double updateCpuSeconds = threadCpuSeconds() - updateCpuStart;
    if (worker.joinable())
        worker.join();
    if (threads != at::get_num_threads())
        at::set_num_threads(threads);
    if (aisError)
        std::rethrow_exception(aisError);
    const double aisTargetSeconds = timedTarget->seconds;
    buffer->adjust(torch::cat(indices), torch::cat(deltas), torch::cat(logQs));
    const int64_t added = buffer->add(ais.z, ais.logW, ais.logQ);
    completed++;

    stats.loss = lossCount > 0 ? lossSum / double(lossCount) : NAN;
    stats.gradNorm = stats.updates > 0 ? normSum / double(stats.updates) : 0.0;
    stats.extra = {{"ais_acceptance", meanOf(ais.acceptance)},
                   {"ais_step_size", meanOf(sampler.getStepSizes())},
                   {"ais_valid_fraction", double(added) / double(b)},
                   {"ais_flow_valid_fraction", ais.flowValidFraction},   // with chiralCentres: the flow's fraction of the wanted handedness
                   {"buffer_size", double(buffer->size())},
                   {"time_ais_s", aisSeconds},
                   {"time_ais_target_s", aisTargetSeconds},
                   {"time_update_s", updateSeconds},
                   {"cpu_ais_s", aisCpuSeconds},          // the iteration's AIS pass, thread CPU time (intra-op threads not counted)
                   {"cpu_update_s", updateCpuSeconds},    // the updates, thread CPU time of the calling thread
                   {"time_iteration_s", secondsSince(iterationStart)}};
    return stats;
}

NamedValues FabMethod::evaluate(AugmentedCouplingFlow& flow, torch::Generator& generator) {
    FlowTargetDensity& density = refreshSnapshot(flow);
    AisSettings evalSettings = sampler.getSettings();
    evalSettings.alpha = 1.0;
    evalSettings.adaptStepSizes = false;
    AnnealedImportanceSampler evalSampler(evalSettings);
    evalSampler.setStepSizes(sampler.getStepSizes());
    std::vector<torch::Tensor> logW;
    double acceptance = 0.0;
    int64_t passes = 0;
    for (int64_t done = 0; done < settings.evalAisSamples; done += settings.evalAisBatch) {
        const int64_t n = std::min(settings.evalAisBatch, settings.evalAisSamples - done);
        AisResult r = evalSampler.run(density, n, generator);
        logW.push_back(r.logW);
        acceptance += meanOf(r.acceptance);
        passes++;
    }
    return {{"ais_ess", reverseEss(torch::cat(logW))}, {"ais_eval_acceptance", acceptance / double(passes)}};
}

void FabMethod::save(torch::serialize::OutputArchive& archive) const {
    archive.write("fabCounters", torch::tensor({completed, int64_t(buffer ? 1 : 0)}, torch::kInt64));
    sampler.save(archive);
    if (buffer)
        buffer->save(archive);
}

void FabMethod::load(torch::serialize::InputArchive& archive) {
    torch::Tensor counters;
    archive.read("fabCounters", counters);
    if (counters.numel() != 2)
        throw std::runtime_error("FabMethod::load: the checkpoint holds no FAB state");
    completed = counters[0].item<int64_t>();
    sampler.load(archive);
    if (counters[1].item<int64_t>() != 0) {
        buffer = makeBuffer();
        buffer->load(archive);
    } else
        buffer.reset();
}

} // namespace bg
