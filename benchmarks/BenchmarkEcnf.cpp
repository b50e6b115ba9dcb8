// E-CNF FM (flow matching, equivariant OT) against the E-ACF (maximum likelihood) on the same
// reference data and the same training wall time (issue 16): test NLL, reverse ESS from flow
// samples, forward ESS on the test set, and the cost of sampling with densities per 1024 samples.
// Targets come from OpenMM (SystemTarget, CPU platform), as for training.
//
// Usage: BenchmarkEcnf [problem: dw4|lj13|... (data/problems)] [trainSeconds] [flowSamples] [timeScale] [threads] [testSamples] [rk4Steps]
// Defaults: dw4 300 2048 1000 1 1000 0. rk4Steps 0 evaluates the E-CNF with Dormand-Prince (paper), then
// also with RK4 (5 and 10 steps) and the Hutchinson estimator; rk4Steps > 0 evaluates it once, with
// that many RK4 steps and exact divergence (LJ13 on a CPU: Dormand-Prince takes hours). The E-CNF is the paper's DW4/LJ13 size (3 EGCL, width 128, F 64,
// float32, B 64, Adam 1e-3 -> 1e-4 cosine, equivariant OT pairing with 4 rotation starts); the
// E-ACF is the main job's flow (examples/dw4-fab-quick/flow.json: 4 blocks, EGNN 2 x 32, F 32), ML with B 64, lr 5e-4 -> 5e-5.

#include "BenchmarkProblems.h"
#include "PluginTestEnvironment.h"
#include "ReferenceProblems.h"
#include "openmm/OpenMMException.h"
#include "SystemTarget.h"
#include "bg/AugmentedCouplingFlow.h"
#include "bg/Evaluation.h"
#include "bg/FlowMatchingMethod.h"
#include "bg/MaximumLikelihoodMethod.h"
#include "bg/ModelAdapters.h"
#include "bg/NpyIO.h"

#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

using namespace bg;
using Clock = std::chrono::steady_clock;

namespace {

double since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

void print(const char* model, const NamedValues& values) {
    for (const auto& [name, value] : values)
        std::printf("  %-6s %-26s %.5g\n", model, name.c_str(), value);
}

/**
 * Call method.step() until the wall time (s) is used up, printing the loss every 200 steps;
 * returns the number of steps (updates).
 */
template <class Method, class Model>
int64_t trainFor(const char* label, Method& method, Model& model, SkipClipAdam& optimizer, double seconds, torch::Generator& generator) {
    const auto start = Clock::now();
    int64_t steps = 0;
    double loss = 0;
    while (since(start) < seconds) {
        loss = method.step(model, optimizer, generator).loss;
        if (++steps % 200 == 0)
            std::printf("    %s step %lld, %.0f s, loss %.4f\n", label, (long long) steps, since(start), loss);
    }
    return steps;
}

/** Train E-CNF FM for the given wall time; returns the number of updates. */
int64_t trainCnf(EquivariantCnf& cnf, const torch::Tensor& train, double seconds, torch::Generator& generator) {
    FlowMatchingSettings settings;
    settings.alignment.rotationStarts = 4;
    FlowMatchingMethod method(train, 64, settings);
    SkipClipAdam optimizer(cnf->parameters(), WarmupCosineSchedule{1e-3, 1e-3, 1e-4, 0, 4000});
    return trainFor("E-CNF", method, cnf, optimizer, seconds, generator);
}

/** Train the E-ACF by maximum likelihood for the given wall time; returns the number of updates. */
int64_t trainAcf(AugmentedCouplingFlow& flow, const torch::Tensor& train, double seconds, torch::Generator& generator) {
    TrainingConfig config;
    config.batchSize = 64;
    MaximumLikelihoodMethod method(train, config, 0.0);
    SkipClipAdam optimizer(flow->parameters(), WarmupCosineSchedule{5e-4, 5e-4, 5e-5, 0, 4000});
    return trainFor("E-ACF", method, flow, optimizer, seconds, generator);
}

} // namespace

int main(int argc, char** argv) {
    // Positional arguments, each with its default.
    auto arg = [&](int i, const char* fallback) { return std::string(argc > i ? argv[i] : fallback); };
    const std::string system = arg(1, "dw4");
    const double trainSeconds = std::stod(arg(2, "300"));
    const int64_t flowSamples = std::stoll(arg(3, "2048"));
    const double timeScale = std::stod(arg(4, "1000"));
    const int threads = std::stoi(arg(5, "1"));
    const int64_t testSamples = std::stoll(arg(6, "1000"));
    const int evalRk4Steps = std::stoi(arg(7, "0"));
    if (evalRk4Steps < 0) {
        std::fprintf(stderr, "BenchmarkEcnf: rk4Steps must be 0 (Dormand-Prince) or positive, got %d\n", evalRk4Steps);
        return 2;
    }
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    BoltzmannPlugin::ReferenceProblem problem;
    if (!findReferenceProblem(system, "BenchmarkEcnf", problem))
        return 2;
    loadOpenMMBGPlugins();
    torch::set_num_threads(threads);
    std::unique_ptr<BoltzmannPlugin::SystemTarget> problemTarget(
            BoltzmannPlugin::createReferenceProblemTarget(problem, BoltzmannPlugin::findDataDirectory(), problem.temperature, "CPU", 1));
    BoltzmannPlugin::SystemTarget& target = *problemTarget;
    const int n = target.numParticles(), d = problem.dimension;
    const std::string dir = std::string(OPENMMBG_DATA_DIR) + "/reference/" + system;
    torch::Tensor train = readNpy(dir + "-train.npy", torch::kFloat32), test = readNpy(dir + "-test.npy", torch::kFloat32);

    CnfConfig cc;
    cc.numParticles = n;
    cc.dimension = d;
    cc.timeScale = timeScale;
    torch::manual_seed(0);
    EquivariantCnf cnf(cc);
    // The E-ACF of the main job (examples/dw4-fab-quick/flow.json), sized for the problem.
    const std::string quickFlowPath = std::string(OPENMMBG_DATA_DIR) + "/../examples/dw4-fab-quick/flow.json";
    std::ifstream quickFlow(quickFlowPath);
    if (!quickFlow) {
        std::fprintf(stderr, "BenchmarkEcnf: cannot read the main job's flow settings %s\n", quickFlowPath.c_str());
        return 2;
    }
    FlowConfig fc = FlowConfig::fromJson(std::string(std::istreambuf_iterator<char>(quickFlow), {}));
    fc.numParticles = n;
    fc.dimension = d;
    AugmentedCouplingFlow flow(fc);
    std::printf("%s: %.0f s of training each, %lld flow samples, %d thread(s); E-CNF %lld parameters (timeScale %g), E-ACF %lld\n",
                system.c_str(), trainSeconds, (long long) flowSamples, threads, (long long) cnf->numParameters(), timeScale,
                (long long) flow->numParameters());

    torch::Generator generator = at::detail::createCPUGenerator(1);
    const int64_t cnfSteps = trainCnf(cnf, train, trainSeconds, generator);
    const int64_t acfSteps = trainAcf(flow, train, trainSeconds, generator);
    std::printf("updates: E-CNF %lld, E-ACF %lld\n", (long long) cnfSteps, (long long) acfSteps);

    CnfModel cnfModel(cnf);
    EvaluationOptions co;
    co.flowSamples = flowSamples;
    co.batchSize = 1024;
    co.testSamples = testSamples;
    if (evalRk4Steps > 0) {
        cnf->solverOptions().method = OdeMethod::Rk4;
        cnf->solverOptions().rk4Steps = evalRk4Steps;
    }
    auto start = Clock::now();
    NamedValues cnfValues = evaluateFlow(cnfModel, test, &target, co, generator);
    if (evalRk4Steps > 0)
        std::printf("E-CNF evaluation (RK4, %d steps, exact divergence): %.1f s\n", evalRk4Steps, since(start));
    else
        std::printf("E-CNF evaluation (Dormand-Prince rtol = atol = %g, exact divergence): %.1f s\n", cc.rtol, since(start));
    print("E-CNF", cnfValues);
    // Cheaper density options (figures per 1024): fixed-step RK4 with 5 and 10 steps on the same
    // number of flow samples, and Dormand-Prince with the Hutchinson estimator on 256 (ESS then
    // biased, ecnf-spec 4).
    EvaluationOptions sampleOnly = co;
    for (int steps : {5, 10}) {
        if (evalRk4Steps > 0)
            break;   // evaluated once, with the given RK4 steps
        cnf->solverOptions().method = OdeMethod::Rk4;
        cnf->solverOptions().rk4Steps = steps;
        std::printf("E-CNF with RK4, %d steps, exact divergence (%lld samples):\n", steps, (long long) sampleOnly.flowSamples);
        print("E-CNF", evaluateFlow(cnfModel, torch::Tensor(), &target, sampleOnly, generator));
    }
    if (evalRk4Steps == 0) {
        sampleOnly.flowSamples = 256;
        cnf->solverOptions().method = OdeMethod::Dopri5;
        cnf->setDivergenceMethod(DivergenceMethod::Hutchinson);
        std::printf("E-CNF with Dormand-Prince, Hutchinson divergence (256 samples):\n");
        print("E-CNF", evaluateFlow(cnfModel, torch::Tensor(), &target, sampleOnly, generator));
    }

    EvaluationOptions eo;
    eo.flowSamples = flowSamples;
    eo.testSamples = testSamples;
    start = Clock::now();
    NamedValues acfValues = evaluateFlow(flow, test, &target, eo, generator);
    std::printf("E-ACF evaluation: %.1f s\n", since(start));
    print("E-ACF", acfValues);
    torch::NoGradGuard noGrad;
    start = Clock::now();
    flow->sample(1024, generator);
    std::printf("  E-ACF  sample_seconds_per_1024      %.5g\n", since(start));
    return 0;
}
