// TrainingDriver: a run interrupted and resumed from its checkpoint ends bitwise equal to an
// uninterrupted one; the output files and the log rows are written.

#include "DriverTestUtilities.h"
#include "TrainingTestUtilities.h"
#include "bg/AugmentedCouplingFlow.h"
#include "bg/MaximumLikelihoodMethod.h"
#include "bg/NpyIO.h"
#include "bg/TrainingDriver.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace bg;
namespace fs = std::filesystem;

namespace {

/** The E-ACF trained by maximum likelihood in the short run. */
struct DriverSetup : bgtest::ShortRun {
    DriverSetup() {
        config.evalFlowSamples = 40;
        config.marginalDraws = 3;
        config.seed = 1234;
    }
    std::unique_ptr<TrainingDriver> driver(const std::string& dir, Target* target, int64_t stopAfter = 0) {
        torch::manual_seed(8);   // the same initial parameters for every driver
        AugmentedCouplingFlow flow(bgtest::tinyFlowConfig());
        return std::make_unique<TrainingDriver>(flow, config, std::make_unique<MaximumLikelihoodMethod>(train, config, 0.0), test, target,
                                                options(dir, stopAfter));
    }
};

/** Maximum likelihood that reports one progress line inside every step, once given a reporter. */
class ReportingMethod : public MaximumLikelihoodMethod {
public:
    using MaximumLikelihoodMethod::MaximumLikelihoodMethod;
    using MaximumLikelihoodMethod::step;
    void setProgressReporter(std::function<void(const std::string& line)> r) override {
        reporter = std::move(r);
    }
    StepStats step(GenerativeModel& model, SkipClipAdam& optimizer, torch::Generator& generator) override {
        if (reporter)
            reporter("inside a step");
        return MaximumLikelihoodMethod::step(model, optimizer, generator);
    }

private:
    std::function<void(const std::string& line)> reporter;
};

/** The progress stream of a short run of `method` (stopAfter steps; 0: all) on the setup's data. */
std::string progressOf(DriverSetup& setup, Target& target, const std::string& name, int64_t stopAfter, bool quiet,
                       std::unique_ptr<TrainingMethod> method) {
    torch::manual_seed(8);
    std::ostringstream lines;
    DriverOptions o = bgtest::ShortRun::options(bgtest::freshDirectory(name), stopAfter);
    o.quiet = quiet;
    o.progress = &lines;
    TrainingDriver d(AugmentedCouplingFlow(bgtest::tinyFlowConfig()), setup.config, std::move(method), setup.test, &target, o);
    d.run();
    return lines.str();
}

std::vector<std::string> readLines(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> lines;
    std::string line;
    while (std::getline(in, line))
        lines.push_back(line);
    return lines;
}

} // namespace

TEST(TrainingDriver, ResumeIsBitwiseIdentical) {
    torch::set_num_threads(1);
    DriverSetup setup;
    bgtest::HarmonicTarget target(2, 2);
    bgtest::StraightAndResumed r = bgtest::runStraightAndResumed(
            "driver", 5, [&](const std::string& dir, int64_t stopAfter) { return setup.driver(dir, &target, stopAfter); });
    EXPECT_EQ(r.straightResult.step, 12);
    bgtest::expectResumedRunMatches(r);
    // The training stream moved on from the seed: parameters changed.
    torch::manual_seed(8);
    AugmentedCouplingFlow initial(bgtest::tinyFlowConfig());
    EXPECT_TRUE(bgtest::parametersChanged(*initial, *r.straight->getFlow()));
}

TEST(TrainingDriver, ProgressLinesSayWhenALimitStopsTheRunFirst) {
    torch::set_num_threads(1);
    DriverSetup setup;
    bgtest::HarmonicTarget target(2, 2);
    auto progress = [&](const std::string& name, int64_t stopAfter) {
        return progressOf(setup, target, name, stopAfter, false, std::make_unique<MaximumLikelihoodMethod>(setup.train, setup.config, 0.0));
    };
    const std::string limited = progress("driver-progress-limit", 4), full = progress("driver-progress-full", 0);
    EXPECT_NE(limited.find("step 2/12"), std::string::npos) << limited;
    EXPECT_NE(limited.find("(stops for its limit in "), std::string::npos) << limited;
    EXPECT_NE(full.find("step 12/12"), std::string::npos) << full;
    EXPECT_EQ(full.find("stops for its limit"), std::string::npos) << full;
}

TEST(TrainingDriver, MethodProgressReachesTheProgressStreamUnlessQuiet) {
    // A method's own progress lines (FAB: the buffer fill) go to the driver's progress stream,
    // one per report, and a quiet driver gives the method no reporter at all.
    torch::set_num_threads(1);
    DriverSetup setup;
    bgtest::HarmonicTarget target(2, 2);
    auto reports = [&](const std::string& name, bool quiet) {
        const std::string text =
                progressOf(setup, target, name, 3, quiet, std::make_unique<ReportingMethod>(setup.train, setup.config, 0.0));
        int count = 0;
        for (size_t at = text.find("inside a step\n"); at != std::string::npos; at = text.find("inside a step\n", at + 1))
            count++;
        return count;
    };
    EXPECT_EQ(reports("driver-method-progress", false), 3);
    EXPECT_EQ(reports("driver-method-progress-quiet", true), 0);
}

TEST(TrainingDriver, WritesCheckpointModelLogAndSamples) {
    torch::set_num_threads(1);
    DriverSetup setup;
    bgtest::HarmonicTarget target(2, 2);
    const std::string dir = bgtest::freshDirectory("driver-files");
    auto d = setup.driver(dir, &target);
    RunResult r = d->run();
    ASSERT_TRUE(r.finished);
    for (const char* name : {"checkpoint.pt", "model.bgflow", "train-log.csv", "samples.npy", "sample-logweights.npy"})
        EXPECT_TRUE(fs::exists(fs::path(dir) / name)) << name;
    EXPECT_FALSE(fs::exists(fs::path(dir) / "checkpoint.pt.tmp"));
    // The saved model is the trained flow.
    AugmentedCouplingFlow loaded = loadFlowFromFile(dir + "/model.bgflow");
    auto pl = loaded->named_parameters();
    for (const auto& item : d->getFlow()->named_parameters())
        EXPECT_TRUE(torch::equal(item.value(), pl[item.key()])) << item.key();
    torch::Tensor samples = readNpy(dir + "/samples.npy");
    EXPECT_EQ(samples.sizes(), (std::vector<int64_t>{40, 2, 2}));
    EXPECT_EQ(readNpy(dir + "/sample-logweights.npy").sizes(), (std::vector<int64_t>{40}));

    std::vector<std::string> lines = readLines(dir + "/train-log.csv");
    ASSERT_FALSE(lines.empty());
    EXPECT_EQ(lines[0], "kind,step,epoch,elapsed_s,loss,grad_norm,lr,skipped,clipped,masked,samples_per_s,metric,value");
    int trainRows = 0, evalRows = 0;
    std::set<std::string> metrics;
    std::set<int> evalSteps;
    for (size_t i = 1; i < lines.size(); i++) {
        std::vector<std::string> cells;
        std::stringstream ss(lines[i]);
        std::string cell;
        while (std::getline(ss, cell, ','))
            cells.push_back(cell);
        if (lines[i].back() == ',')
            cells.push_back("");
        ASSERT_EQ(cells.size(), 13u) << lines[i];
        if (cells[0] == "train") {
            trainRows++;
            EXPECT_TRUE(std::isfinite(std::stod(cells[4]))) << lines[i];
        }
        else if (cells[0] == "eval") {
            evalRows++;
            metrics.insert(cells[11]);
            evalSteps.insert(std::stoi(cells[1]));
        }
        else
            ADD_FAILURE() << "unexpected row " << lines[i];
    }
    EXPECT_EQ(trainRows, 6);   // every 2 of 12 steps
    EXPECT_EQ(evalSteps, (std::set<int>{4, 8, 12}));
    for (const char* m : {"reverse_ess", "test_nll", "test_forward_ess", "test_mean_log_q"})
        EXPECT_EQ(metrics.count(m), 1u) << m;
    EXPECT_GT(evalRows, 0);
}

TEST(TrainingDriver, ScheduleAndErrors) {
    DriverSetup setup;
    const std::string dir = bgtest::freshDirectory("driver-errors");
    auto d = setup.driver(dir, nullptr);
    EXPECT_EQ(d->getTotalSteps(), 12);
    EXPECT_THROW(d->resumeFromCheckpoint(), std::runtime_error);   // nothing to resume from
    // Evaluation seeds differ by step and do not depend on the training stream.
    EXPECT_NE(evaluationSeed(1, 4), evaluationSeed(1, 8));
    EXPECT_NE(evaluationSeed(1, 4), evaluationSeed(2, 4));
    EXPECT_EQ(evaluationSeed(1, 4), evaluationSeed(1, 4));
}

TEST(TrainingDriver, RunsTheFlowOnTheRequestedDevice) {
    DriverSetup setup;
    setup.config.device = "cuda";
    setup.config.epochs = 1;
    const std::string dir = bgtest::freshDirectory("driver-cuda");
    if (!torch::cuda::is_available()) {
        try {
            setup.driver(dir, nullptr);
            ADD_FAILURE() << "expected an error without a CUDA device";
        }
        catch (const std::invalid_argument& e) {
            EXPECT_NE(std::string(e.what()).find("no CUDA device"), std::string::npos) << e.what();
        }
        return;
    }
    // With a GPU: the flow moves there, and training and evaluation run (data and targets stay on the CPU).
    auto d = setup.driver(dir, nullptr);
    EXPECT_TRUE(d->getFlow()->device().is_cuda());
    EXPECT_TRUE(d->run().finished);
    NamedValues values = d->evaluate(false);
    for (const auto& value : values)
        EXPECT_TRUE(std::isfinite(value.second)) << value.first;
}

namespace {

std::string readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

void writeFile(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), bytes.size());
}

// resumeFromCheckpoint() must throw std::runtime_error containing fragment.
void expectResumeFails(DriverSetup& setup, const std::string& dir, bgtest::HarmonicTarget& target, const std::string& fragment) {
    auto d = setup.driver(dir, &target);
    try {
        d->resumeFromCheckpoint();
        FAIL() << "expected std::runtime_error containing '" << fragment << "'";
    }
    catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
    EXPECT_EQ(d->getStep(), 0);
}

} // namespace

TEST(TrainingDriver, RefusesACorruptedOrTruncatedCheckpoint) {
    torch::set_num_threads(1);
    DriverSetup setup;
    bgtest::HarmonicTarget target(2, 2);
    const std::string dir = bgtest::freshDirectory("driver-corrupted");
    setup.driver(dir, &target, 5)->run();
    const std::string path = dir + "/checkpoint.pt";
    const std::string good = readFile(path);
    ASSERT_EQ(good.compare(0, 8, "BGCKPT1\n"), 0);

    std::string flipped = good;
    flipped[flipped.size() / 2] ^= 0x04;
    writeFile(path, flipped);
    expectResumeFails(setup, dir, target, "checksum mismatch: the checkpoint is corrupted");

    writeFile(path, good.substr(0, good.size() - 100));
    expectResumeFails(setup, dir, target, "truncated");

    std::string badMagic = good;
    badMagic[2] ^= 0x01;
    writeFile(path, badMagic);
    expectResumeFails(setup, dir, target, "the checkpoint is corrupted");

    writeFile(path, good);
    auto d = setup.driver(dir, &target);
    d->resumeFromCheckpoint();
    EXPECT_EQ(d->getStep(), 5);
}

TEST(TrainingDriver, StillResumesFromABareArchive) {
    // checkpoint.pt files written before the checksum header are plain torch (zip) archives.
    torch::set_num_threads(1);
    DriverSetup setup;
    bgtest::HarmonicTarget target(2, 2);
    const std::string dir = bgtest::freshDirectory("driver-bare");
    setup.driver(dir, &target, 5)->run();
    const std::string path = dir + "/checkpoint.pt";
    const std::string good = readFile(path);
    const std::string bare = good.substr(good.find('\n', 8) + 1);
    ASSERT_EQ(bare.compare(0, 2, "PK"), 0);
    writeFile(path, bare);
    auto d = setup.driver(dir, &target);
    d->resumeFromCheckpoint();
    EXPECT_EQ(d->getStep(), 5);
}

namespace {

// A method whose steps report fixed figures and touch no weights: step k (1-based) of each pair
// has loss k (NaN for step 3), gradient norm 2k, learning rate 0.1k (step 4's only update is
// skipped), 10 samples and 1 masked sample; step 2 also reports a method figure.
class ScriptedMethod : public TrainingMethod {
public:
    std::string name() const override {
        return "scripted";
    }
    int64_t callsPerEpoch() const override {
        return 2;
    }
    StepStats step(GenerativeModel&, SkipClipAdam&, torch::Generator&) override {
        const int k = ++calls;
        StepStats s;
        s.loss = k == 3 ? NAN : double(k);
        s.gradNorm = 2.0 * k;
        s.learningRate = 0.1 * k;
        s.updates = 1;
        s.skipped = k == 4 ? 1 : 0;
        s.clipped = k == 1 ? 1 : 0;
        s.masked = 1;
        s.samples = 10;
        if (k == 2)
            s.extra = {{"acceptance", 0.5}};
        return s;
    }
    int calls = 0;
};

} // namespace

TEST(TrainingDriver, TrainRowsHoldTheIntervalsMeansAndTotals) {
    DriverSetup setup;
    setup.config.epochs = 2;   // 4 steps
    setup.config.logEvery = 2;
    setup.config.evalEvery = 0;
    const std::string dir = bgtest::freshDirectory("driver-interval");
    torch::manual_seed(8);
    DriverOptions options;
    options.outputDirectory = dir;
    std::ostringstream progress;
    options.progress = &progress;
    TrainingDriver driver(AugmentedCouplingFlow(bgtest::tinyFlowConfig()), setup.config, std::make_unique<ScriptedMethod>(),
                          setup.test, nullptr, options);
    ASSERT_TRUE(driver.run().finished);
    std::vector<std::vector<std::string>> rows;
    for (const std::string& line : readLines(dir + "/train-log.csv")) {
        std::vector<std::string> cells;
        std::stringstream ss(line);
        std::string cell;
        while (std::getline(ss, cell, ','))
            cells.push_back(cell);
        if (!cells.empty() && (cells[0] == "train" || cells[0] == "method"))
            rows.push_back(cells);
    }
    ASSERT_EQ(rows.size(), 3u);
    // Columns 4-9 (loss, grad_norm, lr, skipped, clipped, masked) of a 'train' row.
    auto expectFigures = [](const std::vector<std::string>& row, const std::vector<double>& expected) {
        for (size_t k = 0; k < expected.size(); k++)
            EXPECT_DOUBLE_EQ(std::stod(row[4 + k]), expected[k]) << "column " << 4 + k;
    };
    // Steps 1-2: mean loss 1.5, mean norm 3, lr of step 2, 1 clipped, 2 masked, then step 2's figure.
    EXPECT_EQ(std::vector<std::string>(rows[0].begin(), rows[0].begin() + 3), (std::vector<std::string>{"train", "2", "1"}));
    expectFigures(rows[0], {1.5, 3.0, 0.2, 0, 1, 2});
    EXPECT_GT(std::stod(rows[0][10]), 0.0);
    EXPECT_EQ(rows[1][0] + " " + rows[1][11] + " " + rows[1][12], "method acceptance 0.5");
    // Steps 3-4: only step 4's loss is finite, its update was skipped (lr stays that of step 3).
    EXPECT_EQ(rows[2][1], "4");
    expectFigures(rows[2], {4.0, 7.0, 0.3, 1, 0, 2});
    // One progress line per train row.
    const std::string text = progress.str();
    EXPECT_NE(text.find("step 2/4 (epoch 1.00)  loss 1.5000  lr 2.00e-01"), std::string::npos) << text;
    EXPECT_NE(text.find("step 4/4 (epoch 2.00)  loss 4.0000  lr 3.00e-01"), std::string::npos) << text;
    EXPECT_NE(text.find("skipped 1"), std::string::npos) << text;
}
