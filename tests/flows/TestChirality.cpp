// Chirality: improper-dihedral signs of a tetrahedron and its mirror image, the restriction of an
// energy evaluation to one handedness, and the checks on chiral centres.

#include "bg/Chirality.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

using namespace bg;

namespace {

/** Two configurations of four particles: a tetrahedron whose improper 0-1-2-3 is -90 degrees, and its mirror image (z -> -z). */
torch::Tensor tetrahedronAndMirror() {
    torch::Tensor t = torch::tensor({1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0}, torch::kFloat64).view({1, 4, 3});
    torch::Tensor mirror = t * torch::tensor({1.0, 1.0, -1.0}, torch::kFloat64);
    return torch::cat({t, mirror});
}

} // namespace

TEST(Chirality, AMirrorImageHasTheOtherSign) {
    torch::Tensor x = tetrahedronAndMirror();
    torch::Tensor negative = hasNegativeImpropers(x, {{0, 1, 2, 3}});
    EXPECT_TRUE(negative[0].item<bool>());
    EXPECT_FALSE(negative[1].item<bool>());
    // Swapping two of the outer particles inverts the improper, as the mirror does.
    torch::Tensor swapped = hasNegativeImpropers(x, {{3, 1, 2, 0}});
    EXPECT_FALSE(swapped[0].item<bool>());
    EXPECT_TRUE(swapped[1].item<bool>());
    // Every centre must be negative; no centre restricts nothing.
    EXPECT_FALSE(hasNegativeImpropers(x, {{0, 1, 2, 3}, {3, 1, 2, 0}}).any().item<bool>());
    EXPECT_TRUE(hasNegativeImpropers(x, {}).all().item<bool>());
}

TEST(Chirality, RestrictionRemovesTheOtherHandednessFromTheSupport) {
    torch::Tensor x = tetrahedronAndMirror();
    EnergyEvaluation e;
    e.energy = torch::tensor({1.5, 2.5}, torch::kFloat64);
    e.forces = torch::ones({2, 4, 3}, torch::kFloat64);
    e.valid = torch::ones({2}, torch::kBool);
    EnergyEvaluation unchanged = e;
    restrictToNegativeImpropers(unchanged, x, {});
    EXPECT_TRUE(torch::equal(unchanged.energy, e.energy));
    restrictToNegativeImpropers(e, x, {{0, 1, 2, 3}});
    EXPECT_EQ(e.energy[0].item<double>(), 1.5);
    EXPECT_TRUE(std::isinf(e.energy[1].item<double>()) && e.energy[1].item<double>() > 0);
    EXPECT_TRUE(e.valid[0].item<bool>());
    EXPECT_FALSE(e.valid[1].item<bool>());
    EXPECT_EQ(e.forces[0].abs().sum().item<double>(), 12.0);
    EXPECT_EQ(e.forces[1].abs().sum().item<double>(), 0.0);
    // Without forces requested, forces stay undefined.
    EnergyEvaluation noForces;
    noForces.energy = torch::zeros({2}, torch::kFloat64);
    noForces.valid = torch::ones({2}, torch::kBool);
    restrictToNegativeImpropers(noForces, x, {{0, 1, 2, 3}});
    EXPECT_FALSE(noForces.forces.defined());
    EXPECT_FALSE(noForces.valid[1].item<bool>());
}

TEST(Chirality, BadCentresAreRejected) {
    auto message = [](const std::vector<ChiralCentre>& centres, int n, int d) {
        try {
            checkChiralCentres(centres, n, d, "Owner");
        } catch (const std::invalid_argument& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    EXPECT_EQ(message({{0, 1, 2, 3}}, 4, 3), "");
    EXPECT_EQ(message({}, 4, 2), "");
    EXPECT_NE(message({{0, 1, 2, 4}}, 4, 3).find("Owner: chiral centre 0 names particle 4, outside 0..3"), std::string::npos);
    EXPECT_NE(message({{0, 1, 2, 3}, {-1, 1, 2, 3}}, 4, 3).find("chiral centre 1 names particle -1"), std::string::npos);
    EXPECT_NE(message({{0, 1, 1, 3}}, 4, 3).find("more than once"), std::string::npos);
    EXPECT_NE(message({{0, 1, 2, 3}}, 4, 2).find("three-dimensional"), std::string::npos);
}
