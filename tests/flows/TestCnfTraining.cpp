// Flow matching of the E-CNF through the TrainingDriver: a run stopped and resumed from its
// checkpoint ends bitwise equal to an uninterrupted one, the model file is the E-CNF, the log has
// the evaluation figures, and checkpoints of one kind do not resume a run of another.

#include "CnfTestUtilities.h"
#include "DriverTestUtilities.h"
#include "TrainingTestUtilities.h"
#include "bg/FlowMatchingMethod.h"
#include "bg/MaximumLikelihoodMethod.h"
#include "bg/ModelAdapters.h"
#include "bg/NpyIO.h"
#include "bg/TrainingDriver.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

using namespace bg;
namespace fs = std::filesystem;

namespace {

/** The E-CNF trained by flow matching in the short run. */
struct FmSetup : bgtest::ShortRun {
    CnfConfig cnf = bgtest::smallCnfConfig(2, 2);
    FmSetup() {
        cnf.solver = OdeMethod::Rk4;   // a fixed number of field evaluations keeps the evaluations quick
        cnf.rk4Steps = 4;
        config.method = "fm";
        config.evalFlowSamples = 20;
        config.seed = 77;
    }
    std::unique_ptr<TrainingDriver> driver(const std::string& dir, Target* target, int64_t stopAfter = 0) {
        torch::manual_seed(8);   // the same initial parameters for every driver
        auto model = std::make_shared<CnfModel>(EquivariantCnf(cnf));
        return std::make_unique<TrainingDriver>(model, config, std::make_unique<FlowMatchingMethod>(train, config.batchSize, FlowMatchingSettings()),
                                                test, target, options(dir, stopAfter));
    }
};

/** The metric names of the 'eval' rows of a train-log.csv. */
std::set<std::string> evalMetrics(const std::string& path) {
    std::ifstream in(path);
    std::set<std::string> metrics;
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("eval,", 0) != 0)
            continue;
        std::vector<std::string> cells;
        std::stringstream ss(line);
        std::string cell;
        while (std::getline(ss, cell, ','))
            cells.push_back(cell);
        metrics.insert(cells.at(11));
    }
    return metrics;
}

} // namespace

TEST(CnfTraining, FlowMatchingThroughTheDriverResumesBitwise) {
    torch::set_num_threads(1);
    FmSetup setup;
    bgtest::HarmonicTarget target(2, 2);
    bgtest::StraightAndResumed r = bgtest::runStraightAndResumed(
            "fm", 5, [&](const std::string& dir, int64_t stopAfter) { return setup.driver(dir, &target, stopAfter); });
    bgtest::expectResumedRunMatches(r, {"sample_seconds_per_1024"});   // all but a wall time
    GenerativeModel& trained = r.straight->getModel();
    // Training moved the parameters away from their initial values.
    torch::manual_seed(8);
    CnfModel initial{EquivariantCnf(setup.cnf)};
    EXPECT_TRUE(bgtest::parametersChanged(initial.module(), trained.module()));

    // The files: the model is the E-CNF as trained, the samples carry no augmented variables.
    std::shared_ptr<GenerativeModel> saved = loadModelFromFile(r.straight->outputPath("model.bgflow"));
    EXPECT_EQ(saved->kind(), "ecnf");
    bgtest::expectSameParameters(saved->module(), trained.module());
    EXPECT_EQ(readNpy(r.straight->outputPath("samples.npy")).sizes(), (std::vector<int64_t>{20, 2, 2}));
    EXPECT_EQ(readNpy(r.straight->outputPath("sample-logweights.npy")).sizes(), (std::vector<int64_t>{20}));
    const std::set<std::string> metrics = evalMetrics(r.straight->outputPath("train-log.csv"));
    for (const char* m : {"reverse_ess", "test_nll", "test_forward_ess", "test_mean_log_q", "sample_nfe"})
        EXPECT_EQ(metrics.count(m), 1u) << m;
    EXPECT_THROW(r.straight->getFlow(), std::invalid_argument);   // no E-ACF here
}

TEST(CnfTraining, CheckpointsDoNotCrossModelsOrConfigurations) {
    torch::set_num_threads(1);
    FmSetup setup;
    const std::string dir = bgtest::freshDirectory("fm-cross");
    setup.driver(dir, nullptr, 2)->run();
    // Another E-CNF configuration.
    FmSetup wider;
    wider.cnf.egnnWidth = 24;
    EXPECT_THROW(wider.driver(dir, nullptr)->resumeFromCheckpoint(), std::runtime_error);
    // The E-ACF with maximum likelihood on the same directory.
    TrainingConfig ml = setup.config;
    ml.method = "ml";
    TrainingDriver acf(AugmentedCouplingFlow(bgtest::tinyFlowConfig()), ml, std::make_unique<MaximumLikelihoodMethod>(setup.train, ml, 0.0),
                       setup.test, nullptr, bgtest::ShortRun::options(dir, 0));
    EXPECT_THROW(acf.resumeFromCheckpoint(), std::runtime_error);
}
