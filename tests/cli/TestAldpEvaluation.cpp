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
#include <sstream>
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

TEST(AldpEvaluation, FloorsAreTheDivergencesOfAsManyMdFrames) {
    const std::string directory = findDataDirectory() + "/reference/";
    const torch::Tensor test = bg::readNpy(directory + "aldp800-test.npy", torch::kFloat64);
    const torch::Tensor train = bg::readNpy(directory + "aldp800-train.npy", torch::kFloat64);
    ASSERT_GE(test.size(0), 1200);
    ASSERT_EQ(train.size(0), 4000);
    const torch::Tensor reference = test.narrow(0, 0, 600), lForm = test.narrow(0, 600, 600);
    const torch::Tensor dForm = lForm * torch::tensor({1.0, 1.0, -1.0}, torch::kFloat64);
    const torch::Tensor refPhi = bg::alanineDipeptidePhi(reference), refPsi = bg::alanineDipeptidePsi(reference);
    auto mdKld = [&](int64_t n) {   // n training frames evenly spaced along the chain
        const torch::Tensor md = train.index_select(0, torch::linspace(0, 3999, n, torch::kFloat64).round().to(torch::kInt64));
        return bg::ramachandranKld(refPhi, refPsi, bg::alanineDipeptidePhi(md), bg::alanineDipeptidePsi(md));
    };

    const bg::EvaluationHook hook = evaluationHook(referenceProblem("aldp"), reference, train);
    std::map<std::string, double> allL = figures(hook, lForm);
    EXPECT_DOUBLE_EQ(allL.at("ramachandran_kld_floor"), mdKld(600));
    EXPECT_DOUBLE_EQ(allL.at("ramachandran_kld_l_floor"), mdKld(600));
    // MD frames from another chain read like their floor (within 25 %: 10.4 against 10.7, phi
    // 1.14 against 1.01), which is far from zero at 600 configurations.
    EXPECT_GT(allL.at("ramachandran_kld_floor"), 5.0);
    for (const char* name : {"ramachandran_kld", "phi_kld", "psi_kld"}) {
        const double ratio = allL.at(name) / allL.at(std::string(name) + "_floor");
        EXPECT_GT(ratio, 0.8) << name;
        EXPECT_LT(ratio, 1.25) << name;
    }

    // Half L, half D: the plain floor counts all 1200 samples, the L floor the 600 L-form ones;
    // more samples leave fewer empty bins.
    std::map<std::string, double> mixed = figures(hook, torch::cat({lForm, dForm}));
    EXPECT_DOUBLE_EQ(mixed.at("ramachandran_kld_floor"), mdKld(1200));
    EXPECT_DOUBLE_EQ(mixed.at("ramachandran_kld_l_floor"), mdKld(600));
    EXPECT_LT(mixed.at("ramachandran_kld_floor"), mixed.at("ramachandran_kld_l_floor"));
    // More samples than MD frames: the floor uses all of them.
    std::map<std::string, double> many = figures(hook, torch::cat({lForm, lForm, lForm, lForm, lForm, lForm, lForm}));
    EXPECT_DOUBLE_EQ(many.at("ramachandran_kld_floor"), mdKld(4000));

    // Printed, every name stands apart from its value, the longest (ramachandran_kld_l_floor) too.
    std::ostringstream printed;
    bg::NamedValues values(many.begin(), many.end());
    printFigures(printed, values);
    std::istringstream lines(printed.str());
    std::string line;
    int count = 0;
    for (; std::getline(lines, line); count++) {
        const size_t nameEnd = line.find_first_of(' ', 2);
        ASSERT_NE(nameEnd, std::string::npos) << line;
        EXPECT_EQ(line.substr(nameEnd, 2), "  ") << line;
        EXPECT_EQ(many.count(line.substr(2, nameEnd - 2)), 1u) << line;
    }
    EXPECT_EQ(count, int(many.size()));

    // Without MD frames the floors are undefined, not zero.
    std::map<std::string, double> none = figures(evaluationHook(referenceProblem("aldp"), reference), lForm);
    EXPECT_TRUE(std::isnan(none.at("ramachandran_kld_floor")));
    EXPECT_TRUE(std::isnan(none.at("psi_kld_l_floor")));
}
