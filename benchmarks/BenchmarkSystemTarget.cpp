// Throughput of SystemTarget (reduced energies + forces per second) on the CPU platform for a
// 22-atom molecule-like System (an alanine-dipeptide stand-in: bonds, angles, torsions, a
// NonbondedForce without cutoff and a GBSAOBCForce), batch 1024, against a plain single-Context
// loop. Target: pool rate >= 0.9 x workers x the single-Context (Threads=1) rate. Within one run
// that ratio is BM_SystemTarget/workers:2/forces:1/pin:1 over BM_PlainContextPerThread/threads:2
// (two Contexts, each looping in its own pinned thread); BM_PlainContextPool/workers:2 is the
// same pool without SystemTarget's own work. On a shared machine, interleave repetitions:
//   BenchmarkSystemTarget --benchmark_filter='PlainContextPerThread|PlainContextPool|SystemTarget/workers:[12]/forces:1/pin:1/reference:0'
//     --benchmark_repetitions=9 --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true
//
// The CPU platform runs its kernels on a thread of its own even with Threads=1, so every
// evaluation is a series of hand-offs between the caller and that thread (about 20 each way for
// this System; most of the time is spent in the kernel's context switches). Where an idle core is
// slow to wake (virtual machines), an unpinned single-Context loop is dominated by wake-up
// latency: run the single-Context cases under `taskset -c 0` to measure their compute rate.

#include "PlainContextPool.h"
#include "PluginTestEnvironment.h"
#include "SystemTarget.h"
#include "internal/ContextWorkerPool.h"
#include "openmm/Context.h"
#include "openmm/GBSAOBCForce.h"
#include "openmm/HarmonicAngleForce.h"
#include "openmm/HarmonicBondForce.h"
#include "openmm/NonbondedForce.h"
#include "openmm/PeriodicTorsionForce.h"
#include "openmm/Platform.h"
#include "openmm/State.h"
#include "openmm/System.h"
#include "openmm/VerletIntegrator.h"

#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

namespace {

const int NumAtoms = 22;
const int BatchSize = 1024;

// ACE-ALA-NME atom order (prmtop) and bond graph, as in model-spec 9.3.
const char Elements[NumAtoms + 1] = "HCHHCONHCHCHHHCONHCHHH";
const vector<pair<int, int>> Bonds = {{0, 1},  {1, 2},   {1, 3},   {1, 4},   {4, 5},   {4, 6},   {6, 7},
                                      {6, 8},  {8, 9},   {8, 10},  {10, 11}, {10, 12}, {10, 13}, {8, 14},
                                      {14, 15}, {14, 16}, {16, 17}, {16, 18}, {18, 19}, {18, 20}, {18, 21}};

struct ElementParameters {
    double mass, charge, sigma, epsilon, radius, scale;
};

ElementParameters parameters(char element) {
    switch (element) {
        case 'H': return {1.008, 0.10, 0.25, 0.07, 0.12, 0.85};
        case 'C': return {12.01, -0.05, 0.34, 0.36, 0.17, 0.72};
        case 'N': return {14.01, -0.42, 0.325, 0.71, 0.155, 0.79};
        default: return {16.00, -0.55, 0.296, 0.88, 0.15, 0.85};
    }
}

double bondLength(char a, char b) {
    if (a == 'H' || b == 'H')
        return 0.109;
    if (a == 'O' || b == 'O')
        return 0.123;
    if (a == 'N' || b == 'N')
        return 0.133;
    return 0.152;
}

System makeSystem() {
    System system;
    vector<vector<int>> neighbours(NumAtoms);
    for (auto& b : Bonds) {
        neighbours[b.first].push_back(b.second);
        neighbours[b.second].push_back(b.first);
    }
    HarmonicBondForce* bonds = new HarmonicBondForce();
    for (auto& b : Bonds)
        bonds->addBond(b.first, b.second, bondLength(Elements[b.first], Elements[b.second]), 250000.0);
    HarmonicAngleForce* angles = new HarmonicAngleForce();
    PeriodicTorsionForce* torsions = new PeriodicTorsionForce();
    for (int j = 0; j < NumAtoms; j++)
        for (size_t a = 0; a < neighbours[j].size(); a++)
            for (size_t c = a + 1; c < neighbours[j].size(); c++)
                angles->addAngle(neighbours[j][a], j, neighbours[j][c], 1.911, 400.0);
    for (auto& b : Bonds)
        for (int i : neighbours[b.first])
            for (int l : neighbours[b.second])
                if (i != b.second && l != b.first)
                    torsions->addTorsion(i, b.first, b.second, l, 3, 0.0, 0.6);
    NonbondedForce* nonbonded = new NonbondedForce();
    nonbonded->setNonbondedMethod(NonbondedForce::NoCutoff);
    GBSAOBCForce* gbsa = new GBSAOBCForce();
    gbsa->setNonbondedMethod(GBSAOBCForce::NoCutoff);
    double totalCharge = 0.0;
    for (int i = 0; i < NumAtoms; i++)
        totalCharge += parameters(Elements[i]).charge;
    for (int i = 0; i < NumAtoms; i++) {
        ElementParameters p = parameters(Elements[i]);
        const double charge = p.charge - totalCharge / NumAtoms;   // neutral molecule
        system.addParticle(p.mass);
        nonbonded->addParticle(charge, p.sigma, p.epsilon);
        gbsa->addParticle(charge, p.radius, p.scale);
    }
    nonbonded->createExceptionsFromBonds(Bonds, 0.8333, 0.5);
    system.addForce(bonds);
    system.addForce(angles);
    system.addForce(torsions);
    system.addForce(nonbonded);
    system.addForce(gbsa);
    return system;
}

// A clash-free geometry grown along the bond tree from atom 1 (deterministic).
vector<Vec3> makePositions() {
    mt19937 rng(2024);
    normal_distribution<double> normal(0.0, 1.0);
    vector<Vec3> positions(NumAtoms);
    vector<bool> placed(NumAtoms, false);
    positions[1] = Vec3(0, 0, 0);
    placed[1] = true;
    bool grew = true;
    while (grew) {
        grew = false;
        for (auto& b : Bonds)
            for (int k = 0; k < 2; k++) {
                const int parent = k == 0 ? b.first : b.second, child = k == 0 ? b.second : b.first;
                if (!placed[parent] || placed[child])
                    continue;
                const double length = bondLength(Elements[parent], Elements[child]);
                Vec3 best;
                double bestClearance = -1.0;
                for (int attempt = 0; attempt < 200; attempt++) {
                    Vec3 direction(normal(rng), normal(rng), normal(rng));
                    Vec3 candidate = positions[parent] + direction * (length / sqrt(direction.dot(direction)));
                    double clearance = 1e9;
                    for (int i = 0; i < NumAtoms; i++)
                        if (placed[i] && i != parent) {
                            Vec3 d = candidate - positions[i];
                            clearance = min(clearance, sqrt(d.dot(d)));
                        }
                    if (clearance > bestClearance) {
                        bestClearance = clearance;
                        best = candidate;
                    }
                }
                positions[child] = best;
                placed[child] = true;
                grew = true;
            }
    }
    return positions;
}

vector<int> allAtoms() {
    vector<int> atoms(NumAtoms);
    for (int i = 0; i < NumAtoms; i++)
        atoms[i] = i;
    return atoms;
}

// BatchSize configurations around the base geometry.
torch::Tensor makeBatch() {
    vector<Vec3> base = makePositions();
    torch::Tensor x = torch::empty({BatchSize, NumAtoms, 3}, torch::kFloat64);
    torch::manual_seed(7);
    for (int i = 0; i < NumAtoms; i++)
        for (int d = 0; d < 3; d++)
            x.select(1, i).select(1, d).fill_(base[i][d]);
    return x + 0.003 * torch::randn({BatchSize, NumAtoms, 3}, torch::kFloat64);
}

vector<vector<Vec3>> batchAsVectors(const torch::Tensor& x) {
    vector<vector<Vec3>> configurations(x.size(0), vector<Vec3>(NumAtoms));
    auto a = x.accessor<double, 3>();
    for (int b = 0; b < x.size(0); b++)
        for (int i = 0; i < NumAtoms; i++)
            configurations[b][i] = Vec3(a[b][i][0], a[b][i][1], a[b][i][2]);
    return configurations;
}

} // namespace

// The plain single-Context loop: setPositions + getState(Energy | Forces) for each configuration.
// Argument: the CPU platform's Threads property (1, or 0 for OpenMM's default = all cores).
// Time the one-configuration-at-a-time loop over the benchmark batch in one Context.
static void runPlainLoop(benchmark::State& state, Context& context) {
    vector<vector<Vec3>> configurations = batchAsVectors(makeBatch());
    double sum = 0.0;
    for (auto _ : state) {
        for (const vector<Vec3>& positions : configurations) {
            context.setPositions(positions);
            State s = context.getState(State::Energy | State::Forces);
            sum += s.getPotentialEnergy() + s.getForces()[0][0];
        }
    }
    benchmark::DoNotOptimize(sum);
    state.counters["configs/s"] = benchmark::Counter(double(BatchSize) * state.iterations(), benchmark::Counter::kIsRate);
}

static void BM_PlainContextLoop(benchmark::State& state) {
    loadOpenMMBGPlugins();
    const int threads = state.range(0);
    System system = makeSystem();
    VerletIntegrator integrator(0.001);
    map<string, string> properties;
    if (threads > 0)
        properties["Threads"] = to_string(threads);
    Context context(system, integrator, Platform::getPlatformByName("CPU"), properties);
    runPlainLoop(state, context);
}
BENCHMARK(BM_PlainContextLoop)->ArgName("threads")->Arg(1)->Arg(0)->UseRealTime()->Unit(benchmark::kMillisecond);

// The ceiling for a pool of plain Contexts in one process: each benchmark thread owns a Context
// (Threads=1) created in that thread, bound to the thread_index-th allowed CPU, and loops over the batch.
static void BM_PlainContextPerThread(benchmark::State& state) {
    loadOpenMMBGPlugins();
    // With one thread this is the main thread: restore its CPU set afterwards.
    const vector<int> saved = allowedCpus();
    if (state.thread_index() < (int) saved.size())
        bindCurrentThread({saved[state.thread_index()]});
    {
        System system = makeSystem();
        VerletIntegrator integrator(0.001);
        Context context(system, integrator, Platform::getPlatformByName("CPU"), {{"Threads", "1"}});
        runPlainLoop(state, context);
    }
    bindCurrentThread(saved);
}
BENCHMARK(BM_PlainContextPerThread)->Threads(1)->Threads(2)->UseRealTime()->Unit(benchmark::kMillisecond);

// SystemTarget's worker pool driving plain Contexts (Threads=1, one per pinned worker) over the
// batch, without SystemTarget's own work (tensor copies, checks, reduced units): the pool's share
// of the gap between BM_SystemTarget and BM_PlainContextPerThread. Argument: workers.
static void BM_PlainContextPool(benchmark::State& state) {
    loadOpenMMBGPlugins();
    const int workers = state.range(0);
    const System system = makeSystem();
    const vector<vector<Vec3>> configurations = batchAsVectors(makeBatch());
    PlainContextPool pool(system, workers, true);
    for (auto _ : state)
        benchmark::DoNotOptimize(pool.energies(configurations, true));
    state.counters["configs/s"] = benchmark::Counter(double(BatchSize) * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PlainContextPool)->ArgName("workers")->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

// SystemTarget::evaluate on the whole batch; workers = 1 is the serial path. Arguments: workers,
// forces (0 = energies only), pin (bind workers to CPUs), platform (0 = CPU, 1 = Reference).
static void BM_SystemTarget(benchmark::State& state) {
    loadOpenMMBGPlugins();
    const int workers = state.range(0);
    const bool forces = state.range(1) != 0, pin = state.range(2) != 0;
    const string platform = state.range(3) == 0 ? "CPU" : "Reference";
    SystemTarget target(makeSystem(), 300.0, allAtoms(), makePositions(), platform, workers, 3, {}, pin);
    torch::Tensor x = makeBatch();
    bg::EnergyEvaluation first = target.evaluate(x, forces);
    if (!first.valid.all().item<bool>()) {
        state.SkipWithError("the benchmark batch contains invalid configurations");
        return;
    }
    for (auto _ : state) {
        bg::EnergyEvaluation e = target.evaluate(x, forces);
        benchmark::DoNotOptimize(e.energy.data_ptr<double>());
    }
    state.counters["configs/s"] = benchmark::Counter(double(BatchSize) * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SystemTarget)
        ->ArgNames({"workers", "forces", "pin", "reference"})
        ->Args({1, 1, 1, 0})
        ->Args({2, 1, 1, 0})
        ->Args({2, 1, 0, 0})
        ->Args({1, 0, 1, 0})
        ->Args({2, 0, 1, 0})
        ->Args({1, 1, 1, 1})
        ->Args({2, 1, 1, 1})
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
