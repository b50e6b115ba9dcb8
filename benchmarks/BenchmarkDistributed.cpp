// Data-parallel FAB on DW4 (docs/distributed.md): iterations per hour and ESS per hour with 1 and 2
// processes, the communication share of an iteration, and the gradient all-reduce's size and time.
//
// Usage: BenchmarkDistributed [iterations] [batch per rank] [max ranks]      (defaults: 8 128 2)
// Run without RANK set, it is the launcher: for W = 1 .. max ranks it starts W copies of itself on
// the loopback interface (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT set), one intra-op thread each,
// and prints their figures. Each rank runs the paper's DW4 flow and FAB settings (numIntermediate 2,
// buffer of updatesPerIteration batches, AIS before the updates so that each process uses one
// core) against OpenMM's DW4 System (CPU platform, one Context), its own AIS passes and buffer,
// gradients averaged over the ranks; the first iteration (buffer fill) is not timed.
//   iteration      median wall time of a FAB iteration (the global batch is W x batch)
//   comm           time spent in collectives per iteration: gradient all-reduces + loss statistics
//                  (main channel) and the pooled AIS acceptance (sampler channel); it includes
//                  waiting for the slower rank
//   all-reduce     payload of one gradient all-reduce and the median time of 20 back-to-back ones
//   ESS/hour       iterations/hour x W x batch x the AIS ESS fraction (alpha = 1, 512 samples) at the end
// Every figure is a median over the iterations of rank 0; the machine's load average is printed.

#include "PluginTestEnvironment.h"
#include "RankLauncher.h"
#include "ReferenceSystems.h"
#include "SystemTarget.h"
#include "bg/DistributedContext.h"
#include "bg/FabMethod.h"

#include "BenchmarkStatistics.h"

#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

using namespace bg;
using Clock = std::chrono::steady_clock;

namespace {

double secondsSince(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string loadAverage() {
    std::string text = bgtest::readText("/proc/loadavg");
    return text.substr(0, text.find(' ', text.find(' ', text.find(' ') + 1) + 1));
}

/** One rank: train, then print a RESULT line (rank 0's is used by the launcher). */
int runRank(int iterations, int64_t batch) {
    auto context = DistributedContext::fromEnvironment(600.0);
    torch::set_num_threads(1);
    loadOpenMMBGPlugins();
    std::unique_ptr<OpenMM::System> system(BoltzmannPlugin::createDoubleWell4System());
    const std::vector<int> particles{0, 1, 2, 3};
    BoltzmannPlugin::SystemTarget target(*system, BoltzmannPlugin::referenceSystemTemperature(), particles, std::vector<OpenMM::Vec3>(4), "CPU",
                                         1, 2, {}, false);
    FlowConfig config;   // the paper's DW4 flow
    config.numParticles = 4;
    config.dimension = 2;
    config.auxLossWeight = 0.0;
    torch::manual_seed(0);   // identical initial parameters on every rank
    AugmentedCouplingFlow flow(config);
    FabSettings settings;
    settings.batchSize = batch;
    settings.ais.numIntermediate = 2;
    settings.bufferMinBatches = settings.updatesPerIteration;
    settings.bufferMaxBatches = 64;
    settings.concurrentAis = false;
    settings.evalAisSamples = 512;
    settings.evalAisBatch = 128;
    FabMethod fab(flow, target, settings);
    fab.setDistributed(context);
    SkipClipAdam optimizer(flow->parameters(), WarmupCosineSchedule{2e-5, 2e-4, 2e-5, 240, 160000});
    optimizer.setGradientReducer([&](const std::vector<torch::Tensor>& parameters) { context->averageGradients(parameters); });
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(1 + uint64_t(context->rank()));
    fab.step(flow, optimizer, generator);   // buffer fill + first iteration, not timed
    std::vector<double> wall, main, sampler;
    for (int i = 0; i < iterations; i++) {
        context->resetTraffic();
        const auto start = Clock::now();
        fab.step(flow, optimizer, generator);
        wall.push_back(secondsSince(start));
        main.push_back(context->traffic(DistributedContext::Channel::Main).seconds);
        sampler.push_back(context->traffic(DistributedContext::Channel::Sampler).seconds);
    }
    // The gradient all-reduce alone, after the ranks met.
    context->resetTraffic();
    context->any(false);
    std::vector<double> reduce;
    for (int i = 0; i < 20; i++) {
        const auto start = Clock::now();
        context->averageGradients(flow->parameters());
        reduce.push_back(secondsSince(start));
    }
    optimizer.zeroGrad();
    const int64_t bytes = context->traffic(DistributedContext::Channel::Main).bytes / 20;
    at::Generator evalGenerator = at::make_generator<at::CPUGeneratorImpl>(99 + uint64_t(context->rank()));
    const double ess = fab.evaluate(flow, evalGenerator)[0].second;
    const double essMean = context->sum({ess})[0] / double(context->worldSize());
    std::printf("RESULT %d %d %.6f %.6f %.6f %lld %.6f %.6f %lld\n", context->rank(), context->worldSize(), median(wall), median(main),
                median(sampler), (long long) bytes, median(reduce), essMean, (long long) flow->numParameters());
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    const int iterations = argc > 1 ? std::atoi(argv[1]) : 8;
    const int64_t batch = argc > 2 ? std::atoll(argv[2]) : 128;
    const int maxRanks = argc > 3 ? std::atoi(argv[3]) : 2;
    if (iterations < 1 || batch < 1 || maxRanks < 1) {
        std::fprintf(stderr, "BenchmarkDistributed: iterations, batch and max ranks must be positive\n");
        return 2;
    }
    if (std::getenv("RANK") != nullptr)
        return runRank(iterations, batch);
    const std::string dir = (std::filesystem::temp_directory_path() / ("openmmbg-bench-dist-" + std::to_string(::getpid()))).string();
    std::printf("Data-parallel FAB on DW4: batch %lld per rank, %d timed iterations, one thread per process; load average %s\n",
                (long long) batch, iterations, loadAverage().c_str());
    std::printf("%5s %12s %10s %12s %10s %10s %14s %14s %10s\n", "ranks", "iteration_s", "iter/hour", "comm_main_s", "comm_ais_s",
                "comm_share", "allreduce_B", "allreduce_ms", "ESS/hour");
    for (int world = 1; world <= maxRanks; world++) {
        std::filesystem::create_directories(dir);
        std::vector<bgtest::Rank> ranks =
                bgtest::startRanks(world, {std::to_string(iterations), std::to_string(batch), std::to_string(maxRanks)}, dir);
        if (!bgtest::waitForRanks(ranks, 3600.0) || !WIFEXITED(ranks[0].status) || WEXITSTATUS(ranks[0].status) != 0) {
            std::fprintf(stderr, "BenchmarkDistributed: a rank failed:\n%s\n", bgtest::readText(dir + "/rank0.log").c_str());
            return 1;
        }
        const std::string log = bgtest::readText(dir + "/rank0.log");
        int rank = 0, size = 0;
        double wall = 0, main = 0, sampler = 0, reduce = 0, ess = 0;
        long long bytes = 0, parameters = 0;
        const size_t at = log.find("RESULT ");
        if (at == std::string::npos || std::sscanf(log.c_str() + at, "RESULT %d %d %lf %lf %lf %lld %lf %lf %lld", &rank, &size, &wall, &main,
                                                   &sampler, &bytes, &reduce, &ess, &parameters) != 9) {
            std::fprintf(stderr, "BenchmarkDistributed: no result from rank 0:\n%s\n", log.c_str());
            return 1;
        }
        const double perHour = 3600.0 / wall;
        std::printf("%5d %12.3f %10.0f %12.4f %10.4f %9.1f%% %14lld %14.3f %10.0f\n", world, wall, perHour, main, sampler,
                    100.0 * (main + sampler) / wall, bytes, 1e3 * reduce, perHour * double(world * batch) * ess);
        std::fflush(stdout);
        if (world == maxRanks)
            std::printf("flow parameters: %lld; load average at the end %s\n", parameters, loadAverage().c_str());
    }
    std::filesystem::remove_all(dir);
    return 0;
}
