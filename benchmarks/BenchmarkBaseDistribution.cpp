// Throughput of sampling and evaluating the zero-CoM Gaussian base (samples/s), the floor under
// every flow benchmark.

#include "bg/ZeroCoMGaussian.h"

#include <benchmark/benchmark.h>
#include <torch/torch.h>

static void BM_BaseSampleAndLogProb(benchmark::State& state) {
    const int n = state.range(0), batch = state.range(1);
    bg::ZeroCoMGaussian base(n, 3);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(1);
    torch::NoGradGuard noGrad;
    for (auto _ : state) {
        torch::Tensor x = base.sample(batch, torch::kFloat32, gen);
        benchmark::DoNotOptimize(base.logProb(x).data_ptr());
    }
    state.counters["samples/s"] = benchmark::Counter(double(batch) * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_BaseSampleAndLogProb)->Args({4, 128})->Args({13, 1024})->Args({22, 1024});

BENCHMARK_MAIN();
