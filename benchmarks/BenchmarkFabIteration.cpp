// Time per FAB iteration (model-spec 11.5) with the paper's flows and FAB settings, energies and
// forces from OpenMM through a SystemTarget on the CPU platform, and the share of each part:
//   AIS total (flow sampling, flow log q and input gradients, target energies/forces, HMC),
//   of which target energies (OpenMM), and the buffer updates (flow forward+backward, optimiser).
// Wall-clock shares are reported; the process CPU time per iteration is printed too, as the figure
// that a busy machine disturbs least. The buffer is filled with updatesPerIteration batches only (not 64) so that the figure is the
// steady-state iteration; the fill is not timed.
//
// Usage: BenchmarkFabIteration [problem: dw4|lj13|... (data/problems)] [batch] [numIntermediate] [iterations] [threads] [device] [workers]
//                              [concurrent] [malloc] [fill]
// Defaults: dw4 128 2 5 1 cpu 1 1 default. The paper's LJ13 setting is: lj13 1024 8. device "cuda" runs the flow on
// the GPU (AIS bookkeeping, the buffer and OpenMM stay on the CPU); workers is the number of CPU
// Contexts evaluating target energies in parallel. concurrent 1 (default) runs each iteration's AIS
// pass in a second thread while the updates run (FabSettings::concurrentAis), 0 runs them one after
// the other. threads is the intra-op thread count (torch::set_num_threads); with concurrent 1 each
// phase uses max(1, threads/2) of them while they overlap, so "1" already keeps two cores busy.
// malloc "default" leaves glibc's adaptive thresholds as they are (as openmm-bg train does);
// "limit" calls bg::limitHeapFragmentation() (128 KiB mmap threshold: every tensor of 128 KiB or
// more is mmapped and unmapped again, which cost about 45 % of an iteration's CPU time in page
// faults on DW4 -- the setting of this benchmark before issue 13).
// fill "ais" (default) fills the buffer with bufferMinBatches + 1 AIS passes and runs a first,
// untimed iteration, as training does; "flow" fills it with plain flow samples (log w = 0, no AIS)
// through FabMethod::load and times every iteration from the first: an iteration costs the same
// number of passes either way, and LJ13's AIS fill alone would take most of an hour on 2 cores.

#include "BenchmarkProblems.h"
#include "BenchmarkStatistics.h"
#include "PluginTestEnvironment.h"
#include "ReferenceProblems.h"
#include "openmm/OpenMMException.h"
#include "SystemTarget.h"
#include "bg/FabMethod.h"
#include "bg/MemoryTuning.h"

#include <torch/torch.h>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

using namespace bg;

namespace {

double extra(const StepStats& s, const std::string& key) {
    for (auto& [k, v] : s.extra)
        if (k == key)
            return v;
    return 0.0;
}

} // namespace

int main(int argc, char** argv) {
    const std::string system = argc > 1 ? argv[1] : "dw4";
    const int64_t batch = argc > 2 ? std::atoll(argv[2]) : 128;
    const int numIntermediate = argc > 3 ? std::atoi(argv[3]) : 2;
    const int iterations = argc > 4 ? std::atoi(argv[4]) : 5;
    const int threads = argc > 5 ? std::atoi(argv[5]) : 1;
    const std::string device = argc > 6 ? argv[6] : "cpu";
    const int workers = argc > 7 ? std::atoi(argv[7]) : 1;
    const bool concurrent = argc > 8 ? std::atoi(argv[8]) != 0 : true;
    const std::string mallocPolicy = argc > 9 ? argv[9] : "default";
    const std::string fill = argc > 10 ? argv[10] : "ais";
    if (fill != "ais" && fill != "flow") {
        std::fprintf(stderr, "BenchmarkFabIteration: unknown fill '%s' (ais or flow)\n", fill.c_str());
        return 2;
    }
    if (mallocPolicy != "default" && mallocPolicy != "limit") {
        std::fprintf(stderr, "BenchmarkFabIteration: unknown malloc policy '%s' (default or limit)\n", mallocPolicy.c_str());
        return 2;
    }
    BoltzmannPlugin::ReferenceProblem problem;
    if (!findReferenceProblem(system, "BenchmarkFabIteration", problem))
        return 2;
    if (mallocPolicy == "limit")
        limitHeapFragmentation();
    loadOpenMMBGPlugins();
    torch::set_num_threads(threads);
    std::unique_ptr<BoltzmannPlugin::SystemTarget> problemTarget(BoltzmannPlugin::createReferenceProblemTarget(
            problem, BoltzmannPlugin::findDataDirectory(), problem.temperature, "CPU", workers));
    BoltzmannPlugin::SystemTarget& target = *problemTarget;
    const int n = target.numParticles();
    // The flow of the problem's FAB preset (DW4, LJ13: the paper's spherical projection, 12 blocks, EGNN 3 x 64, F 128).
    FlowConfig config = FlowConfig::fromJson(problem.flowPresets.at("fab"));
    config.numParticles = n;
    config.dimension = problem.dimension;
    torch::manual_seed(0);
    AugmentedCouplingFlow flow(config);
    if (device != "cpu")
        flow->to(torch::Device(device));
    FabSettings settings;
    settings.batchSize = batch;
    settings.ais.numIntermediate = numIntermediate;
    settings.bufferMinBatches = settings.updatesPerIteration;
    settings.bufferMaxBatches = 64;
    settings.concurrentAis = concurrent;
    FabMethod fab(flow, target, settings);
    SkipClipAdam optimizer(flow->parameters(), WarmupCosineSchedule{2e-5, 2e-4, 2e-5, 240, 160000});
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(1);

    std::printf("FAB iteration, %s: batch %lld, %d intermediate distributions, %d updates, flow %lld parameters, %d torch thread(s), "
                "flow on %s, %d OpenMM worker(s), AIS %s the updates, malloc %s\n",
                system.c_str(), (long long) batch, numIntermediate, settings.updatesPerIteration, (long long) flow->numParameters(),
                threads, device.c_str(), workers, concurrent ? "concurrent with" : "before", mallocPolicy.c_str());
    std::fflush(stdout);
    const auto startUp = std::chrono::steady_clock::now();
    if (fill == "ais") {
        fab.step(flow, optimizer, gen);   // buffer fill + first iteration (not timed)
        std::printf("  buffer fill (%lld AIS passes) + first iteration: %.1f s wall\n", (long long) settings.bufferMinBatches + 1,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - startUp).count());
    }
    else {
        // A buffer of bufferMinBatches batches of flow samples, handed over as a saved FAB state.
        FlowTargetDensity sampling(flow, target);
        std::vector<torch::Tensor> points, logQs;
        for (int64_t k = 0; k < settings.bufferMinBatches; k++) {
            auto [z, logQ] = sampling.sample(batch, gen);
            points.push_back(z);
            logQs.push_back(logQ);
        }
        torch::Tensor z = torch::cat(points), logQ = torch::cat(logQs);
        const int64_t length = z.size(0);
        torch::serialize::OutputArchive state;
        state.write("fabCounters", torch::tensor({int64_t(0), int64_t(1)}, torch::kInt64));
        state.write("aisStepSizes", torch::full({numIntermediate}, settings.ais.initialStepSize, torch::kFloat64));
        state.write("bufferPoints", z);
        state.write("bufferLogW", torch::zeros({length}, torch::kFloat64));
        state.write("bufferLogQ", logQ);
        state.write("bufferState", torch::tensor({length, length % (settings.bufferMaxBatches * batch), settings.bufferMaxBatches * batch,
                                                  z.size(1)}, torch::kInt64));
        std::stringstream bytes;
        state.save_to(bytes);
        torch::serialize::InputArchive loaded;
        loaded.load_from(bytes);
        fab.load(loaded);
        std::printf("  buffer of %lld flow samples: %.1f s wall\n", (long long) length,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - startUp).count());
    }
    std::fflush(stdout);
    std::vector<double> total, ais, aisTarget, update, cpu, cpuAis, cpuUpdate;
    for (int i = 0; i < iterations; i++) {
        const std::clock_t cpuStart = std::clock();
        StepStats s = fab.step(flow, optimizer, gen);
        cpu.push_back(double(std::clock() - cpuStart) / CLOCKS_PER_SEC);
        total.push_back(extra(s, "time_iteration_s"));
        ais.push_back(extra(s, "time_ais_s"));
        aisTarget.push_back(extra(s, "time_ais_target_s"));
        update.push_back(extra(s, "time_update_s"));
        cpuAis.push_back(extra(s, "cpu_ais_s"));
        cpuUpdate.push_back(extra(s, "cpu_update_s"));
        std::printf("  iteration %d: %.3f s wall, %.3f s CPU (AIS %.3f s wall / %.3f s CPU, of which OpenMM %.3f s; updates %.3f s wall / %.3f s CPU), loss %.3f\n",
                    i + 1, total.back(), cpu.back(), ais.back(), cpuAis.back(), aisTarget.back(), update.back(), cpuUpdate.back(), s.loss);
        std::fflush(stdout);
    }
    const double t = median(total), a = median(ais), e = median(aisTarget), u = median(update);
    std::printf("median over %d iterations: %.3f s per iteration (wall), %.3f s CPU time of the process\n", iterations, t, median(cpu));
    std::printf("  thread CPU time: AIS pass %.3f s, updates %.3f s (with 1 intra-op thread per phase, the wall time of an\n"
                "  iteration on otherwise idle cores is about the larger of the two when they run concurrently)\n",
                median(cpuAis), median(cpuUpdate));
    std::printf("  AIS flow + HMC   %.3f s  (%.1f %%)\n", a - e, 100 * (a - e) / t);
    std::printf("  OpenMM energies  %.3f s  (%.1f %%)\n", e, 100 * e / t);
    std::printf("  buffer updates   %.3f s  (%.1f %%)\n", u, 100 * u / t);
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    std::printf("  peak resident memory of the process: %.0f MiB\n", double(usage.ru_maxrss) / 1024.0);
    if (concurrent)
        std::printf("  (AIS ran in a second thread during the updates: the shares overlap)\n");
    else
        std::printf("  other            %.3f s  (%.1f %%)\n", t - a - u, 100 * (t - a - u) / t);
    return 0;
}
