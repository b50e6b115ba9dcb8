// The alanine dipeptide evaluation figures of openmm-bg (evaluationHook, "ramachandran"): the L
// fraction of flow samples and the KL divergences on the L-form samples, against configurations of
// known chirality (the reference data are L-alanine; their mirror images z -> -z are D-alanine).

#include "CommandSupport.h"
#include "bg/ModelAdapters.h"
#include "bg/NpyIO.h"
#include "bg/Ramachandran.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <map>
#include <string>

using namespace BoltzmannPlugin;
using namespace BoltzmannPlugin::cli;

namespace {

std::map<std::string, double> figures(const bg::EvaluationHook& hook, const torch::Tensor& x) {
    bg::FlowConfig config;   // the hook reads the samples only; any flow will do
    config.numBlocks = 1;
    config.egnnLayers = 1;
    config.egnnWidth = config.invariantFeatures = 8;
    config.headWidths = {8};
    bg::CouplingFlowModel model{bg::AugmentedCouplingFlow(config)};
    bg::EvaluationSamples samples;
    samples.x = x;
    std::map<std::string, double> values;
    for (const auto& [name, value] : hook(model, samples))
        values[name] = value;
    return values;
}

} // namespace

TEST(AldpEvaluation, LFractionAndKldsOnTheLFormAgainstKnownChirality) {
    const torch::Tensor test = bg::readNpy(findDataDirectory() + "/reference/aldp800-test.npy", torch::kFloat64);
    ASSERT_GE(test.size(0), 1200);
    const torch::Tensor reference = test.narrow(0, 0, 600), lForm = test.narrow(0, 600, 600);
    const torch::Tensor dForm = lForm * torch::tensor({1.0, 1.0, -1.0}, torch::kFloat64);
    ASSERT_TRUE(bg::isLAlanine(test).all().item<bool>());
    ASSERT_FALSE(bg::isLAlanine(dForm).any().item<bool>());
    const bg::EvaluationHook hook = evaluationHook(referenceProblem("aldp"), reference);
    ASSERT_TRUE(hook);

    // Half L, half D: the L figures are those of the L half alone, the plain ones see both.
    std::map<std::string, double> mixed = figures(hook, torch::cat({lForm, dForm}));
    EXPECT_DOUBLE_EQ(mixed.at("l_fraction"), 0.5);
    const torch::Tensor refPhi = bg::alanineDipeptidePhi(reference), refPsi = bg::alanineDipeptidePsi(reference);
    const double lKld = bg::ramachandranKld(refPhi, refPsi, bg::alanineDipeptidePhi(lForm), bg::alanineDipeptidePsi(lForm));
    EXPECT_DOUBLE_EQ(mixed.at("ramachandran_kld_l"), lKld);
    EXPECT_DOUBLE_EQ(mixed.at("phi_kld_l"), bg::angleKld(refPhi, bg::alanineDipeptidePhi(lForm)));
    EXPECT_DOUBLE_EQ(mixed.at("psi_kld_l"), bg::angleKld(refPsi, bg::alanineDipeptidePsi(lForm)));

    std::map<std::string, double> allL = figures(hook, lForm);
    EXPECT_DOUBLE_EQ(allL.at("l_fraction"), 1.0);
    EXPECT_DOUBLE_EQ(allL.at("ramachandran_kld"), allL.at("ramachandran_kld_l"));
    // The mirror image has the backbone angles of opposite sign, far from the reference's; no
    // L-form sample at all leaves the L figures undefined (NaN), not a number that looks like a result.
    std::map<std::string, double> allD = figures(hook, dForm);
    EXPECT_DOUBLE_EQ(allD.at("l_fraction"), 0.0);
    EXPECT_GT(allD.at("phi_kld"), allL.at("phi_kld") + 1.0);
    EXPECT_GT(allD.at("ramachandran_kld"), allL.at("ramachandran_kld") + 1.0);
    EXPECT_TRUE(std::isnan(allD.at("ramachandran_kld_l")));
    EXPECT_TRUE(std::isnan(allD.at("phi_kld_l")));
    EXPECT_TRUE(std::isfinite(allD.at("ramachandran_kld")));
}
