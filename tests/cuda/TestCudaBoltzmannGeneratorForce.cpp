// BoltzmannGeneratorForce on OpenMM's CUDA platform. Every test skips itself when no CUDA device
// is usable (as on the CPU-only CI machine); on a GPU machine they run in all three precisions.

#include "BoltzmannGeneratorForce.h"
#include "PluginTestEnvironment.h"
#include "openmm/Context.h"
#include "openmm/HarmonicBondForce.h"
#include "openmm/Platform.h"
#include "openmm/State.h"
#include "openmm/System.h"
#include "openmm/VerletIntegrator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

class CudaForce : public ::testing::TestWithParam<string> {
protected:
    void SetUp() override {
        if (!cudaPlatformUsable())
            GTEST_SKIP() << "no usable CUDA device";
        ASSERT_TRUE(loadOpenMMBGPlugins().empty()) << loadOpenMMBGPlugins().front();
        properties["Precision"] = GetParam();
    }
    map<string, string> properties;
};

TEST_P(CudaForce, AddsNoEnergyAndGathersTheModelledPositions) {
    const int n = 300;   // enough atoms that OpenMM reorders them
    System system;
    HarmonicBondForce* bonds = new HarmonicBondForce();
    vector<Vec3> positions;
    for (int i = 0; i < n; i++) {
        system.addParticle(1.0);
        positions.push_back(Vec3(0.3 * (i % 7), 0.3 * ((i / 7) % 7), 0.3 * (i / 49)) + Vec3(0.01 * sin(i), 0.01 * cos(i), 0.0));
        if (i > 0)
            bonds->addBond(i - 1, i, 0.3, 100.0);
    }
    system.addForce(bonds);
    vector<int> modelled = {250, 3, 17, 128, 0};
    BoltzmannGeneratorForce* force = new BoltzmannGeneratorForce(modelled, 300.0);
    system.addForce(force);
    VerletIntegrator integrator(0.001);
    Context context(system, integrator, Platform::getPlatformByName("CUDA"), properties);
    context.setPositions(positions);
    integrator.step(3);
    State state = context.getState(State::Positions | State::Energy, false, ~(1 << 1));
    double withoutOurs = state.getPotentialEnergy();
    double all = context.getState(State::Energy).getPotentialEnergy();
    EXPECT_DOUBLE_EQ(all, withoutOurs);
    vector<Vec3> gathered = force->getModelledPositions(context);
    double tolerance = GetParam() == "single" ? 1e-6 : 1e-12;
    for (size_t i = 0; i < modelled.size(); i++)
        for (int k = 0; k < 3; k++)
            EXPECT_NEAR(gathered[i][k], state.getPositions()[modelled[i]][k], tolerance);
}

INSTANTIATE_TEST_SUITE_P(Precisions, CudaForce, ::testing::Values("single", "mixed", "double"));
