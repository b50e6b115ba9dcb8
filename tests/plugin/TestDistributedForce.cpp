// BoltzmannGeneratorForce::setDistributedTraining through the C++ API: two ranks of this executable
// on the loopback interface (started as torchrun would, tests/flows/RankLauncher.h), each with its own
// random seed (seed 0), take rank 0's flow on joining and end maximum likelihood and FAB with
// bitwise identical weights; without the launcher variables the first training call throws.

#include "../flows/RankLauncher.h"
#include "BoltzmannGeneratorForce.h"
#include "PluginTestEnvironment.h"
#include "ReferenceSystems.h"
#include "openmm/Context.h"
#include "openmm/System.h"
#include "openmm/VerletIntegrator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

namespace {

const char* directoryVariable = "BG_FORCE_DIST_DIR";

/** A DW4 System with a planar force (a tiny flow, seed 0: every Context draws its own seed). */
unique_ptr<System> dw4WithForce(BoltzmannGeneratorForce*& force) {
    unique_ptr<System> system(createDoubleWell4System());
    force = new BoltzmannGeneratorForce({0, 1, 2, 3}, referenceSystemTemperature());
    force->setPlanar(true);
    force->setFlow("{\"numParticles\": 4, \"dimension\": 2, \"numBlocks\": 1, \"egnnLayers\": 1, \"egnnWidth\": 8, "
                   "\"invariantFeatures\": 8, \"headWidths\": [8], \"dtype\": \"float64\"}");
    force->setTrainingSettings("{\"batchSize\": 8, \"fab\": {\"bufferMinBatches\": 2, \"bufferMaxBatches\": 4, \"updatesPerIteration\": 2, "
                               "\"ais\": {\"numIntermediate\": 1, \"initialStepSize\": 0.05}}}");
    force->setDistributedTraining(true);
    force->setDistributedTimeout(60.0);
    system->addForce(force);
    return system;
}

const vector<Vec3> square = {Vec3(-1, -1, 0), Vec3(1, -1, 0), Vec3(1, 1, 0), Vec3(-1, 1, 0)};

/** 32 configurations near the square (nm), alike in every process. */
vector<Vec3> trainingData() {
    vector<Vec3> data;
    for (int i = 0; i < 32; i++)
        for (int p = 0; p < 4; p++)
            data.push_back(square[p] + Vec3(0.2 * sin(1.7 * i + p), 0.2 * cos(2.3 * i - p), 0));
    return data;
}

} // namespace

// The entry point of a started rank; skipped when the test executable runs normally.
TEST(DistributedForceWorker, Run) {
    const char* dir = getenv(directoryVariable);
    if (dir == nullptr)
        GTEST_SKIP() << "runs only as a rank started by the tests below";
    try {
        loadOpenMMBGPlugins();
        BoltzmannGeneratorForce* force = nullptr;
        unique_ptr<System> system = dw4WithForce(force);
        VerletIntegrator integrator(0.001);
        Context context(*system, integrator, Platform::getPlatformByName("Reference"));
        context.setPositions(square);
        const BoltzmannGeneratorTrainingReport ml = force->trainOnSamples(context, trainingData(), 3);
        const BoltzmannGeneratorTrainingReport fab = force->train(context, 1);
        ofstream out(string(dir) + "/weights-rank" + getenv("RANK") + ".bin", ios::binary);
        out << ml.lastLoss << ' ' << fab.lastLoss << '\n' << force->getWeights(context);
    }
    catch (const exception& e) {
        cerr << "worker error: " << e.what() << endl;
        _Exit(3);   // no orderly teardown: a peer may be gone
    }
}

TEST(DistributedForce, RanksWithTheirOwnSeedsTrainOneFlow) {
    const string dir = testing::TempDir() + "distributed-force-" + to_string(getpid());
    filesystem::create_directories(dir);
    vector<bgtest::Rank> ranks = bgtest::startRanks(2, {"--gtest_filter=DistributedForceWorker.Run"}, dir, {{directoryVariable, dir}});
    ASSERT_TRUE(bgtest::waitForRanks(ranks, 120.0)) << "ranks did not finish in time";
    for (int r = 0; r < 2; r++)
        ASSERT_TRUE(WIFEXITED(ranks[r].status) && WEXITSTATUS(ranks[r].status) == 0)
                << "rank " << r << " failed:\n" << bgtest::readText(dir + "/rank" + to_string(r) + ".log");
    const string rank0 = bgtest::readText(dir + "/weights-rank0.bin"), rank1 = bgtest::readText(dir + "/weights-rank1.bin");
    ASSERT_GT(rank0.size(), 1000u);
    EXPECT_TRUE(rank0 == rank1) << "the ranks' losses and weights differ";
    double mlLoss = NAN, fabLoss = NAN;
    istringstream(rank0.substr(0, rank0.find('\n'))) >> mlLoss >> fabLoss;
    EXPECT_TRUE(isfinite(mlLoss) && isfinite(fabLoss)) << rank0.substr(0, rank0.find('\n'));
    filesystem::remove_all(dir);
}

TEST(DistributedForce, WithoutALauncherTheFirstTrainingCallThrows) {
    loadOpenMMBGPlugins();
    unsetenv("RANK");
    unsetenv("WORLD_SIZE");
    BoltzmannGeneratorForce* force = nullptr;
    unique_ptr<System> system = dw4WithForce(force);
    VerletIntegrator integrator(0.001);
    Context context(*system, integrator, Platform::getPlatformByName("Reference"));
    context.setPositions(square);
    expectOpenMMException([&] { force->train(context, 1); }, "BoltzmannGeneratorForce", "RANK");
    expectOpenMMException([&] { force->trainOnSamples(context, trainingData(), 1); }, "BoltzmannGeneratorForce", "RANK");
    EXPECT_THROW(force->setDistributedTimeout(-1.0), OpenMMException);
}
