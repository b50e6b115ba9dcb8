// E-ACF speed with the paper's architectures (model-spec section 14), float32 on the CPU:
//  - BM_SampleAndLogProb: one pass that draws samples and their joint log q, no gradients (samples/s);
//  - BM_LogProbForwardBackward: log q of a batch and the gradient of its mean w.r.t. the weights
//    (the maximum-likelihood / FAB training step without the optimiser).
// Arguments: {system (0 = DW4, 1 = LJ13, 2 = ALDP-sized), batch, threads, memorySaving}. With
// memorySaving = 1 the forward+backward pass uses gradient checkpointing per coupling layer and
// sampling pushes at most 128 samples through the flow at once (setInferenceBatchSize).
// Counters report the parameter count and the process's peak resident memory so far (MiB; run one
// size per process with --benchmark_filter for a per-size figure: scripts in benchmarks/ do that).

#include "bg/AugmentedCouplingFlow.h"
#include "bg/MemoryTuning.h"

#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <cstdlib>
#include <string>
#include <torch/torch.h>

namespace {

bg::FlowConfig paperConfig(int system) {
    bg::FlowConfig c;
    c.projection = bg::Projection::Spherical;
    c.innerTransform = bg::InnerTransform::Spline;
    c.dtype = "float32";
    c.identityInit = false;   // timing a non-trivial flow; the cost does not depend on the weights
    if (system == 0) {
        c.numParticles = 4;
        c.dimension = 2;
        c.numBlocks = 12;
    }
    else if (system == 1) {
        c.numParticles = 13;
        c.dimension = 3;
        c.numBlocks = 12;
    }
    else {
        c.numParticles = 22;
        c.dimension = 3;
        c.numBlocks = 20;
        c.egnnWidth = 128;
        c.numEmbeddings = 22;
        c.embeddingDim = 32;
        c.eta = 0.5;
    }
    return c;
}

const char* systemName(int system) {
    return system == 0 ? "DW4" : system == 1 ? "LJ13" : "ALDP";
}

double peakResidentMiB() {
    rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss / 1024.0;
}

void setCommonCounters(benchmark::State& state, bg::AugmentedCouplingFlow& flow, int batch) {
    state.counters["samples/s"] = benchmark::Counter(double(batch) * state.iterations(), benchmark::Counter::kIsRate);
    state.counters["params"] = double(flow->numParameters());
    state.counters["peakRSS_MiB"] = peakResidentMiB();
}

void BM_SampleAndLogProb(benchmark::State& state) {
    const int system = state.range(0), batch = state.range(1), threads = state.range(2);
    torch::set_num_threads(threads);
    torch::manual_seed(0);
    bg::AugmentedCouplingFlow flow(paperConfig(system));
    if (state.range(3) != 0)
        flow->setInferenceBatchSize(128);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(1);
    torch::InferenceMode inference;
    flow->sample(batch, gen);   // warm-up: first-touch allocation is not part of the figure
    for (auto _ : state) {
        bg::FlowSample s = flow->sample(batch, gen);
        benchmark::DoNotOptimize(s.logProb.data_ptr());
    }
    state.SetLabel(systemName(system));
    setCommonCounters(state, flow, batch);
}

void BM_LogProbForwardBackward(benchmark::State& state) {
    const int system = state.range(0), batch = state.range(1), threads = state.range(2);
    torch::set_num_threads(threads);
    torch::manual_seed(0);
    bg::AugmentedCouplingFlow flow(paperConfig(system));
    flow->setGradientCheckpointing(state.range(3) != 0);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(1);
    bg::FlowSample data;
    {
        torch::NoGradGuard noGrad;
        data = flow->sample(batch, gen);
    }
    (-flow->logProb(data.x, data.a).mean()).backward();   // warm-up
    for (auto _ : state) {
        flow->zero_grad();
        torch::Tensor loss = -flow->logProb(data.x, data.a).mean();
        loss.backward();
        benchmark::DoNotOptimize(loss.data_ptr());
    }
    state.SetLabel(systemName(system));
    setCommonCounters(state, flow, batch);
}

void sizes(benchmark::internal::Benchmark* b) {
    for (int system : {0, 1, 2})
        for (int batch : {128, 1024})
            for (int threads : {1, 2})
                for (int memorySaving : {0, 1})
                    b->Args({system, batch, threads, memorySaving});
    b->ArgNames({"system", "batch", "threads", "memorySaving"})->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
}

} // namespace

BENCHMARK(BM_SampleAndLogProb)->Apply(sizes);
BENCHMARK(BM_LogProbForwardBackward)->Apply(sizes);

// Peak memory is reported with the heap tuned as in the openmm-bg executables (bg::MemoryTuning.h);
// OPENMMBG_DEFAULT_MALLOC=1 keeps glibc's defaults to measure the difference.
int main(int argc, char** argv) {
    const char* keep = std::getenv("OPENMMBG_DEFAULT_MALLOC");
    if (keep == nullptr || std::string(keep) != "1")
        bg::limitHeapFragmentation();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
