// Dihedral angles, alanine dipeptide backbone angles and chirality, and histogram divergences.

#include "bg/Ramachandran.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <string>

using namespace bg;

namespace {

const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);

/** Four points with dihedral `degrees`: p0 on the x axis, bond p1-p2 along z, p3 rotated about z. */
torch::Tensor dihedralOf(double degrees) {
    double t = degrees * M_PI / 180.0;
    torch::Tensor p0 = torch::tensor({1.0, 0.0, 0.0}, f64), p1 = torch::tensor({0.0, 0.0, 0.0}, f64);
    torch::Tensor p2 = torch::tensor({0.0, 0.0, 1.5}, f64), p3 = torch::tensor({2.0 * std::cos(t), 2.0 * std::sin(t), 1.5}, f64);
    return dihedralAngle(p0, p1, p2, p3);
}

/** The reference structure from data/alanine-dipeptide.pdb, in nm: [1, 22, 3]. */
torch::Tensor pdbStructure() {
    std::ifstream in(std::string(OPENMMBG_DATA_DIR) + "/alanine-dipeptide.pdb");
    EXPECT_TRUE(in.good());
    std::vector<double> coords;
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("ATOM", 0) == 0 || line.rfind("HETATM", 0) == 0)
            for (int k = 0; k < 3; k++)
                coords.push_back(0.1 * std::stod(line.substr(30 + 8 * k, 8)));
    EXPECT_EQ(coords.size(), 66u);
    return torch::tensor(coords, f64).view({1, 22, 3});
}

} // namespace

TEST(Ramachandran, DihedralOfConstructedGeometries) {
    EXPECT_NEAR(dihedralOf(60).item<double>(), M_PI / 3, 1e-12);
    EXPECT_NEAR(dihedralOf(-60).item<double>(), -M_PI / 3, 1e-12);
    EXPECT_NEAR(std::abs(dihedralOf(180).item<double>()), M_PI, 1e-12);
    EXPECT_NEAR(dihedralOf(0).item<double>(), 0.0, 1e-12);
    EXPECT_NEAR(dihedralOf(-135).item<double>(), -0.75 * M_PI, 1e-12);
    // Batched, and invariant to a rigid motion.
    torch::Tensor p = torch::randn({5, 4, 3}, f64);
    torch::Tensor q = std::get<0>(torch::linalg_qr(torch::randn({3, 3}, f64)));
    if (torch::det(q).item<double>() < 0)
        q.select(1, 0).mul_(-1);
    torch::Tensor moved = torch::matmul(p, q.t()) + torch::randn({3}, f64);
    torch::Tensor a = dihedralAngle(p.select(1, 0), p.select(1, 1), p.select(1, 2), p.select(1, 3));
    torch::Tensor b = dihedralAngle(moved.select(1, 0), moved.select(1, 1), moved.select(1, 2), moved.select(1, 3));
    EXPECT_TRUE(torch::allclose(a, b, 1e-9, 1e-9));
    // A reflection flips the sign.
    torch::Tensor mirrored = p * torch::tensor({1.0, 1.0, -1.0}, f64);
    torch::Tensor c = dihedralAngle(mirrored.select(1, 0), mirrored.select(1, 1), mirrored.select(1, 2), mirrored.select(1, 3));
    EXPECT_TRUE(torch::allclose(a, -c, 1e-9, 1e-9));
}

TEST(Ramachandran, ReferenceStructureIsLAlanineInAnExtendedBackbone) {
    torch::Tensor x = pdbStructure();
    const double phi = alanineDipeptidePhi(x).item<double>() * 180 / M_PI;
    const double psi = alanineDipeptidePsi(x).item<double>() * 180 / M_PI;
    // The minimised structure lies in the upper-left (beta / polyproline) region of the Ramachandran plot.
    EXPECT_GT(phi, -120);
    EXPECT_LT(phi, -40);
    EXPECT_GT(psi, 100);
    EXPECT_LT(psi, 180);
    EXPECT_TRUE(isLAlanine(x).item<bool>());
    torch::Tensor mirror = x * torch::tensor({-1.0, 1.0, 1.0}, f64);
    EXPECT_FALSE(isLAlanine(mirror).item<bool>());
    // The mirror image has the backbone angles of opposite sign.
    EXPECT_NEAR(alanineDipeptidePhi(mirror).item<double>() * 180 / M_PI, -phi, 1e-9);
    EXPECT_THROW(alanineDipeptidePhi(torch::zeros({1, 21, 3}, f64)), std::invalid_argument);
}

TEST(Ramachandran, KldIsZeroForIdenticalSamplesAndPositiveOtherwise) {
    torch::manual_seed(0);
    torch::Tensor a = torch::rand({5000}, f64) * 2 * M_PI - M_PI;
    EXPECT_NEAR(angleKld(a, a), 0.0, 1e-12);
    EXPECT_NEAR(angleKld(a, a.flip(0)), 0.0, 1e-12);   // order does not matter
    torch::Tensor narrow = torch::randn({5000}, f64) * 0.3;
    EXPECT_GT(angleKld(a, narrow), 0.5);
    EXPECT_GT(angleKld(narrow, a), 0.5);
    torch::Tensor b = torch::rand({5000}, f64) * 2 * M_PI - M_PI;
    EXPECT_NEAR(ramachandranKld(a, b, a, b), 0.0, 1e-12);
    EXPECT_GT(ramachandranKld(a, b, narrow, b), 0.5);
    // Independent draws of one distribution give a small (histogram-noise) divergence.
    torch::Tensor c = torch::rand({5000}, f64) * 2 * M_PI - M_PI;
    EXPECT_LT(angleKld(a, c), 0.05);
}
