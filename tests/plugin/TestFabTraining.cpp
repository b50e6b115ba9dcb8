// FAB against OpenMM energies: a short DW4 run with a small flow, energies and forces from a
// SystemTarget on the CPU platform, must raise the reverse effective sample size clearly.

#include "PluginTestEnvironment.h"
#include "ReferenceSystems.h"
#include "SystemTarget.h"
#include "bg/FabMethod.h"
#include "bg/Metrics.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <memory>

using namespace bg;

namespace {

FlowConfig smallDw4Flow() {
    FlowConfig c;
    c.numParticles = 4;
    c.dimension = 2;
    c.numBlocks = 2;
    c.egnnLayers = 1;
    c.egnnWidth = 32;
    c.invariantFeatures = 32;
    c.headWidths = {32};
    c.dtype = "float32";
    return c;
}

// Reverse ESS (fraction) and mean log-weight E_q[log p~ - log q] (the ELBO, -KL(q||p) - log Z) of
// n flow samples against the target.
std::pair<double, double> reverseEssAndElbo(AugmentedCouplingFlow& flow, Target& target, int64_t n, uint64_t seed) {
    FlowTargetDensity density(flow, target);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    auto [z, logQ] = density.sample(n, gen);
    JointEvaluation e = density.evaluate(z, false);
    torch::Tensor logW = torch::where(e.valid, e.logP - e.logQ, torch::full_like(e.logQ, -INFINITY));
    return {reverseEss(logW), logW.index({e.valid}).mean().item<double>()};
}

} // namespace

TEST(FabTraining, Dw4SmokeRunRaisesTheElbo) {
    loadOpenMMBGPlugins();
    torch::set_num_threads(1);
    std::unique_ptr<OpenMM::System> system(BoltzmannPlugin::createDoubleWell4System());
    std::vector<OpenMM::Vec3> positions(4, OpenMM::Vec3(0, 0, 0));
    BoltzmannPlugin::SystemTarget target(*system, BoltzmannPlugin::referenceSystemTemperature(), {0, 1, 2, 3}, positions, "CPU", 1, 2);
    torch::manual_seed(2024);
    AugmentedCouplingFlow flow(smallDw4Flow());
    FabSettings settings;
    settings.batchSize = 32;
    settings.updatesPerIteration = 4;
    settings.bufferMaxBatches = 64;
    settings.bufferMinBatches = 4;
    FabMethod fab(flow, target, settings);
    const int iterations = 150;
    const double lr = 2e-3;
    SkipClipAdam optimizer(flow->parameters(), WarmupCosineSchedule{lr / 10, lr, lr / 10, 40, iterations * 4});
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(7);

    const auto [before, elboBefore] = reverseEssAndElbo(flow, target, 2000, 1);
    double meanAcceptance = 0.0;
    for (int i = 0; i < iterations; i++) {
        StepStats s = fab.step(flow, optimizer, gen);
        ASSERT_EQ(s.updates, 4);
        meanAcceptance += s.extra[0].second / iterations;
    }
    const auto [after, elboAfter] = reverseEssAndElbo(flow, target, 2000, 1);
    RecordProperty("reverse_ess_before", std::to_string(before));
    RecordProperty("reverse_ess_after", std::to_string(after));
    std::printf("DW4 FAB smoke: reverse ESS %.4f -> %.4f, ELBO %.1f -> %.1f after %d iterations, mean AIS acceptance %.2f\n", before,
                after, elboBefore, elboAfter, iterations, meanAcceptance);
    // The identity flow (a unit Gaussian) misses the wells by several nm: measured with this seed,
    // ELBO -110 -> 14 (Intel CPU) and -110 -> -12 (AMD EPYC) after 150 iterations. The small flow
    // cannot match the four-fold multimodal target in that time: its reverse ESS of 2000 samples
    // stays near 0.1-1 % and rests on one or two samples (0.0013 -> 0.0126 on the Intel CPU,
    // 0.0013 -> 0.0012 on the AMD one), so only the ELBO, a mean over all samples, is asserted.
    EXPECT_LT(before, 0.01);
    EXPECT_GT(elboAfter, elboBefore + 50.0);
    for (auto& p : flow->parameters())
        EXPECT_TRUE(torch::isfinite(p).all().item<bool>());
}
