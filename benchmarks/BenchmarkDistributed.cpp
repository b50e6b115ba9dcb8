// Data-parallel FAB on DW4 (docs/distributed.md): iterations per hour and ESS per hour with 1 and 2
// processes, the communication share of an iteration, and the gradient all-reduce's size and time.
//
// Usage: BenchmarkDistributed [iterations] [batch per rank] [max ranks] [flow]   (defaults: 5 128 2 paper)
// flow "paper" is the paper's DW4 flow (12 blocks, EGNN 3 x 64, F 128); "small" has 2 blocks, EGNN
// 2 x 32, F 32 (for a loaded 2-core machine, where a paper iteration takes ~15 s of CPU).
// Run without RANK set, it is the launcher: for W = 1 .. max ranks it starts W copies of itself on
// the loopback interface (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT set), one intra-op thread each,
// and prints their figures. Each rank runs the chosen DW4 flow with the paper's FAB settings (numIntermediate 2,
// buffer of updatesPerIteration batches, AIS before the updates so that each process uses one
// core) against OpenMM's DW4 System (CPU platform, one Context), its own AIS passes and buffer,
// gradients averaged over the ranks; the first iteration (buffer fill) is not timed.
//   iteration      median wall time of a FAB iteration (the global batch is W x batch)
//   cpu            median CPU time of the rank's process per iteration (what a loaded machine
//                  disturbs least; with one thread each, the wall time on idle cores is about
//                  cpu + the communication wait)
//   comm           time spent in collectives per iteration: gradient all-reduces + loss statistics
//                  (main channel) and the pooled AIS acceptance (sampler channel); it includes
//                  waiting for the slower rank
//   all-reduce     payload of one gradient all-reduce and the median time of 10 back-to-back ones;
//                  also for a float32 buffer of the paper flow's size (for projections)
//   ESS/hour       iterations/hour x W x batch x the AIS ESS fraction (alpha = 1, 256 samples per rank,
//                  averaged over the ranks) at the end
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
#include <ctime>
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

FlowConfig dw4Flow(const std::string& kind) {
    FlowConfig config;   // the paper's DW4 flow
    config.numParticles = 4;
    config.dimension = 2;
    config.auxLossWeight = 0.0;
    if (kind == "small") {
        config.numBlocks = 2;
        config.egnnLayers = 2;
        config.egnnWidth = 32;
        config.invariantFeatures = 32;
        config.headWidths = {32, 32};
    }
    return config;
}

/** Median seconds of 10 gradient all-reduces of `parameters` (ranks meet first), and the bytes of one. */
std::pair<double, int64_t> timeAllReduce(DistributedContext& context, const std::vector<torch::Tensor>& parameters) {
    for (const torch::Tensor& p : parameters)
        p.mutable_grad() = torch::zeros_like(p);
    context.any(false);
    context.resetTraffic();
    std::vector<double> seconds;
    for (int i = 0; i < 10; i++) {
        const auto start = Clock::now();
        context.averageGradients(parameters);
        seconds.push_back(secondsSince(start));
    }
    return {median(seconds), context.traffic(DistributedContext::Channel::Main).bytes / 10};
}

/** One rank: train, then print a RESULT line (rank 0's is used by the launcher). */
int runRank(int iterations, int64_t batch, const std::string& kind) {
    auto context = DistributedContext::fromEnvironment(600.0);
    torch::set_num_threads(1);
    loadOpenMMBGPlugins();
    std::unique_ptr<OpenMM::System> system(BoltzmannPlugin::createDoubleWell4System());
    BoltzmannPlugin::SystemTarget target(*system, BoltzmannPlugin::referenceSystemTemperature(), {0, 1, 2, 3}, std::vector<OpenMM::Vec3>(4),
                                         "CPU", 1, 2, {}, false);
    torch::manual_seed(0);   // identical initial parameters on every rank
    AugmentedCouplingFlow flow(dw4Flow(kind));
    FabSettings settings;
    settings.batchSize = batch;
    settings.ais.numIntermediate = 2;
    settings.bufferMinBatches = settings.updatesPerIteration;
    settings.bufferMaxBatches = 64;
    settings.concurrentAis = false;
    settings.evalAisSamples = 256;
    settings.evalAisBatch = 128;
    FabMethod fab(flow, target, settings);
    fab.setDistributed(context);
    SkipClipAdam optimizer(flow->parameters(), WarmupCosineSchedule{2e-5, 2e-4, 2e-5, 240, 160000});
    optimizer.setGradientReducer([&](const std::vector<torch::Tensor>& parameters) { context->averageGradients(parameters); });
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(1 + uint64_t(context->rank()));
    fab.step(flow, optimizer, generator);   // buffer fill + first iteration, not timed
    std::vector<double> wall, cpu, main, sampler;
    for (int i = 0; i < iterations; i++) {
        context->resetTraffic();
        const auto start = Clock::now();
        const std::clock_t cpuStart = std::clock();
        fab.step(flow, optimizer, generator);
        wall.push_back(secondsSince(start));
        cpu.push_back(double(std::clock() - cpuStart) / CLOCKS_PER_SEC);
        main.push_back(context->traffic(DistributedContext::Channel::Main).seconds);
        sampler.push_back(context->traffic(DistributedContext::Channel::Sampler).seconds);
    }
    at::Generator evalGenerator = at::make_generator<at::CPUGeneratorImpl>(99 + uint64_t(context->rank()));
    const double ess = context->sum({fab.evaluate(flow, evalGenerator)[0].second})[0] / double(context->worldSize());
    const auto [reduceSeconds, bytes] = timeAllReduce(*context, flow->parameters());
    // A float32 buffer as large as the paper flow's gradient.
    const std::vector<torch::Tensor> paperSized{torch::zeros({AugmentedCouplingFlow(dw4Flow("paper"))->numParameters()})};
    const auto [paperSeconds, paperBytes] = timeAllReduce(*context, paperSized);
    std::printf("RESULT %d %d %.6f %.6f %.6f %.6f %lld %.6f %.6f %lld %lld %.6f\n", context->rank(), context->worldSize(), median(wall),
                median(cpu), median(main), median(sampler), (long long) bytes, reduceSeconds, ess, (long long) flow->numParameters(),
                (long long) paperBytes, paperSeconds);
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    const int iterations = argc > 1 ? std::atoi(argv[1]) : 5;
    const int64_t batch = argc > 2 ? std::atoll(argv[2]) : 128;
    const int maxRanks = argc > 3 ? std::atoi(argv[3]) : 2;
    const std::string kind = argc > 4 ? argv[4] : "paper";
    if (iterations < 1 || batch < 1 || maxRanks < 1 || (kind != "paper" && kind != "small")) {
        std::fprintf(stderr, "BenchmarkDistributed: iterations, batch and max ranks must be positive, flow paper or small\n");
        return 2;
    }
    if (std::getenv("RANK") != nullptr)
        return runRank(iterations, batch, kind);
    const std::string dir = (std::filesystem::temp_directory_path() / ("openmmbg-bench-dist-" + std::to_string(::getpid()))).string();
    std::printf("Data-parallel FAB on DW4 (%s flow): batch %lld per rank, %d timed iterations, one thread per process; load average %s\n",
                kind.c_str(), (long long) batch, iterations, loadAverage().c_str());
    std::fflush(stdout);
    std::printf("%5s %12s %8s %10s %12s %10s %10s %14s %14s %10s\n", "ranks", "iteration_s", "cpu_s", "iter/hour", "comm_main_s",
                "comm_ais_s", "comm_share", "allreduce_B", "allreduce_ms", "ESS/hour");
    for (int world = 1; world <= maxRanks; world++) {
        std::filesystem::create_directories(dir);
        std::vector<bgtest::Rank> ranks =
                bgtest::startRanks(world, {std::to_string(iterations), std::to_string(batch), std::to_string(maxRanks), kind}, dir);
        if (!bgtest::waitForRanks(ranks, 3600.0) || !WIFEXITED(ranks[0].status) || WEXITSTATUS(ranks[0].status) != 0) {
            std::fprintf(stderr, "BenchmarkDistributed: a rank failed:\n%s\n", bgtest::readText(dir + "/rank0.log").c_str());
            return 1;
        }
        const std::string log = bgtest::readText(dir + "/rank0.log");
        int rank = 0, size = 0;
        double wall = 0, cpu = 0, main = 0, sampler = 0, reduce = 0, ess = 0;
        long long bytes = 0, parameters = 0, paperBytes = 0;
        double paperSeconds = 0;
        const size_t at = log.find("RESULT ");
        if (at == std::string::npos || std::sscanf(log.c_str() + at, "RESULT %d %d %lf %lf %lf %lf %lld %lf %lf %lld %lld %lf", &rank, &size, &wall,
                                                   &cpu, &main, &sampler, &bytes, &reduce, &ess, &parameters, &paperBytes,
                                                   &paperSeconds) != 12) {
            std::fprintf(stderr, "BenchmarkDistributed: no result from rank 0:\n%s\n", log.c_str());
            return 1;
        }
        const double perHour = 3600.0 / wall;
        std::printf("%5d %12.3f %8.3f %10.0f %12.4f %10.4f %9.1f%% %14lld %14.3f %10.0f\n", world, wall, cpu, perHour, main, sampler,
                    100.0 * (main + sampler) / wall, bytes, 1e3 * reduce, perHour * double(world * batch) * ess);
        std::fflush(stdout);
        if (world > 1)
            std::printf("      all-reduce of a paper-flow-sized float32 gradient (%lld B): %.3f ms\n", paperBytes, 1e3 * paperSeconds);
        if (world == maxRanks)
            std::printf("flow parameters: %lld; load average at the end %s\n", parameters, loadAverage().c_str());
    }
    std::filesystem::remove_all(dir);
    return 0;
}
