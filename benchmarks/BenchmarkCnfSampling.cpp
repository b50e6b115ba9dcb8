// E-CNF cost of densities on the CPU (issue 16), the paper's DW4/LJ13 size (3 EGCL, width 128, F 64,
// float32; ecnf-spec 1.2):
//  - BM_FieldWithExactDivergence: one evaluation of v(x, t) with its exact divergence for a batch;
//    Args {system (0 = DW4, 1 = LJ13), batch, variant}: variant 0 = every row replicated N D times,
//    one backward pass (the earlier implementation); 1 = one forward, a backward pass per direction,
//    all N D directions; 2 = as 1 on the (N-1) D zero-CoM directions, in passes of at most
//    8192 / (N (N-1)) rows on the CPU (what EquivariantCnf does); 3 = as 2 with all rows in one pass.
//    LJ13 at 32 rows: variant 0 holds N D = 39 copies of every edge tensor for the backward pass
//    (at 256 rows it needed more than the 24 GB of this machine); variant 2 also at other batch sizes.
//  - BM_SampleWithLogProb: draw a batch with log q by fixed-step RK4 (steps x 4 field evaluations);
//    Args {system, batch, steps}. Dormand-Prince's cost is NFE x the per-evaluation time above.
// Counters: nfe per solve, seconds per 1024 samples. The E-ACF's one-pass figure of the same size is
// BenchmarkFlow's BM_SampleAndLogProb. BG_BENCH_DEVICE=cuda (or cuda:i) runs the E-CNF on a GPU
// (benchmarks/gpu_check.sh), where replicated rows may beat one backward pass per direction.

#include "bg/Divergence.h"
#include "bg/EquivariantCnf.h"

#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cstdlib>

namespace {

/** The device of BG_BENCH_DEVICE (default: the CPU). */
torch::Device benchDevice() {
    const char* name = std::getenv("BG_BENCH_DEVICE");
    return name && *name ? torch::Device(name) : torch::Device(torch::kCPU);
}

bg::CnfConfig paperConfig(int system) {
    bg::CnfConfig c;   // defaults: DW4 column of ecnf-spec 1.2
    if (system == 1) {
        c.numParticles = 13;
        c.dimension = 3;
    }
    return c;
}

void BM_FieldWithExactDivergence(benchmark::State& state) {
    torch::set_num_threads(1);
    torch::manual_seed(0);
    bg::CnfConfig config = paperConfig(static_cast<int>(state.range(0)));
    bg::EquivariantCnf cnf(config);
    cnf->to(benchDevice());
    const int64_t batch = state.range(1), variant = state.range(2);
    torch::Tensor x = cnf->sampleBase(batch), t = torch::rand({batch}, x.options());
    bg::VelocityFunction f = [&](const torch::Tensor& xs, const torch::Tensor& ts) { return cnf->velocity(xs, ts); };
    torch::Tensor basis = variant >= 2 ? bg::zeroCentreOfMassBasis(config.numParticles, x.options()) : torch::Tensor();
    auto strategy = variant == 0 ? bg::ExactDivergenceStrategy::Replicated : bg::ExactDivergenceStrategy::Sequential;
    const int64_t rowsPerPass = variant == 3 ? batch : 0;
    for (auto _ : state)   // item() waits for a GPU to finish
        benchmark::DoNotOptimize(bg::velocityAndExactDivergence(f, x, t, basis, strategy, rowsPerPass).second.sum().item<double>());
    state.counters["s_per_1024"] = benchmark::Counter(batch / 1024.0, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_FieldWithExactDivergence)
        ->ArgsProduct({{0}, {1, 1024}, {0, 1, 2}})
        ->ArgsProduct({{1}, {1, 32}, {0, 1, 2}})
        ->ArgsProduct({{0}, {64, 256}, {2}})        // other batches: the per-row cost by batch
        ->ArgsProduct({{1}, {8, 16, 64, 128}, {2}})
        ->ArgsProduct({{0}, {1024}, {3}})            // one pass against passes of 682 (DW4) / 52 (LJ13) rows
        ->ArgsProduct({{1}, {512}, {2, 3}})
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();

void BM_SampleWithLogProb(benchmark::State& state) {
    torch::set_num_threads(1);
    torch::manual_seed(0);
    bg::EquivariantCnf cnf(paperConfig(static_cast<int>(state.range(0))));
    cnf->to(benchDevice());
    cnf->solverOptions().method = bg::OdeMethod::Rk4;
    cnf->solverOptions().rk4Steps = static_cast<int>(state.range(2));
    const int64_t batch = state.range(1);
    int64_t nfe = 0;
    for (auto _ : state) {
        bg::CnfSample sample = cnf->sample(batch, std::nullopt, true);
        benchmark::DoNotOptimize(sample.logProb.sum().item<double>());   // waits for a GPU to finish
        nfe = sample.evaluations;
    }
    state.counters["nfe"] = static_cast<double>(nfe);
    state.counters["s_per_1024"] = benchmark::Counter(batch / 1024.0, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_SampleWithLogProb)->ArgsProduct({{0}, {1024}, {5, 10}})->Unit(benchmark::kMillisecond)->UseRealTime();

} // namespace

BENCHMARK_MAIN();
