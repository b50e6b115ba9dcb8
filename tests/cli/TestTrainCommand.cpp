// The openmm-bg train command, run in-process on DW4 with a tiny flow and synthetic reference data:
// output files, stop and resume, and exit code 2 for bad arguments.

#include "CommandTestUtilities.h"
#include "bg/NpyIO.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <cctype>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

using namespace BoltzmannPlugin::cli;
using namespace clitest;
namespace fs = std::filesystem;

namespace {

/** A DW4 ML run with a tiny flow: 64 samples, B 16, 2 epochs = 8 steps. */
std::vector<std::string> tinyRun(const std::string& out) {
    return {"train", "--system", "dw4", "--method", "ml", "--out", out, "--data-dir", syntheticDataDirectory(), "--threads", "1",
            "--seed", "5", "--set", "flow.numBlocks=1", "--set", "flow.egnnLayers=1", "--set", "flow.egnnWidth=8",
            "--set", "flow.invariantFeatures=8", "--set", "flow.headWidths=[8,8]", "--set", "epochs=2", "--set", "batchSize=16",
            "--set", "schedule.warmupEpochs=1", "--set", "evalFlowSamples=50", "--set", "marginalDraws=2", "--set", "logEvery=2",
            "--eval-every", "4"};
}

/**
 * Values from a run's train-log.csv, one per matching row in file order: for kind "train" the
 * column `field` (e.g. "loss"), for kind "method" or "eval" the value of the metric named `field`.
 */
std::vector<double> logValues(const std::string& out, const std::string& kind, const std::string& field) {
    const std::vector<std::string> columns = {"kind", "step", "epoch", "elapsed_s", "loss", "grad_norm", "lr", "skipped", "clipped",
                                              "masked", "samples_per_s", "metric", "value"};
    std::ifstream log(fs::path(out) / "train-log.csv");
    std::vector<double> values;
    std::string line;
    while (std::getline(log, line)) {
        std::vector<std::string> cells;
        std::stringstream row(line);
        for (std::string cell; std::getline(row, cell, ',');)
            cells.push_back(cell);
        cells.resize(columns.size());
        if (cells[0] != kind)
            continue;
        if (kind == "train")
            values.push_back(std::stod(cells[std::find(columns.begin(), columns.end(), field) - columns.begin()]));
        else if (cells[11] == field)
            values.push_back(std::stod(cells[12]));
    }
    return values;
}

} // namespace

TEST(TrainCommand, TrainsWritesOutputsAndPrintsASummary) {
    const std::string out = freshOut("full");
    Outcome r = run(tinyRun(out));
    ASSERT_EQ(r.code, 0) << r.err << r.out;
    for (const char* name : {"checkpoint.pt", "model.bgflow", "train-log.csv", "samples.npy", "sample-logweights.npy", "flow-config.json",
                             "training-config.json"})
        EXPECT_TRUE(fs::exists(fs::path(out) / name)) << name;
    EXPECT_NE(r.out.find("step 8/8"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("final evaluation"), std::string::npos) << r.out;
    for (const char* metric : {"test_nll", "test_forward_ess", "reverse_ess"})
        EXPECT_NE(r.out.find(metric), std::string::npos) << metric;
    torch::Tensor samples = bg::readNpy(out + "/samples.npy");
    EXPECT_EQ(samples.sizes(), (std::vector<int64_t>{50, 4, 2}));
    // Running again into the same directory without --resume is refused.
    EXPECT_EQ(run(tinyRun(out)).code, 2);
}

TEST(TrainCommand, StopAndResume) {
    const std::string out = freshOut("resume");
    std::vector<std::string> first = tinyRun(out);
    first.insert(first.end(), {"--stop-after", "3", "--quiet"});
    Outcome a = run(first);
    ASSERT_EQ(a.code, 0) << a.err;
    EXPECT_NE(a.out.find("stopped"), std::string::npos) << a.out;
    EXPECT_TRUE(fs::exists(fs::path(out) / "checkpoint.pt"));
    EXPECT_FALSE(fs::exists(fs::path(out) / "samples.npy"));
    std::vector<std::string> second = tinyRun(out);
    second.insert(second.end(), {"--resume", "--quiet"});
    Outcome b = run(second);
    ASSERT_EQ(b.code, 0) << b.err;
    EXPECT_NE(b.out.find("final evaluation at step 8"), std::string::npos) << b.out;
    EXPECT_TRUE(fs::exists(fs::path(out) / "samples.npy"));
}

TEST(TrainCommand, FabRunWithResume) {
    // DW4 FAB with a tiny flow against OpenMM energies: 4 iterations, stopped after 2 and resumed.
    const std::string out = freshOut("fab");
    std::vector<std::string> args = {"train", "--system", "dw4", "--method", "fab", "--out", out, "--data-dir", syntheticDataDirectory(),
                                     "--threads", "1", "--seed", "3", "--set", "flow.numBlocks=1", "--set", "flow.egnnLayers=1",
                                     "--set", "flow.egnnWidth=8", "--set", "flow.invariantFeatures=8", "--set", "flow.headWidths=[8]",
                                     "--set", "epochs=4", "--set", "batchSize=16", "--set", "fab.bufferMinBatches=8",
                                     "--set", "fab.bufferMaxBatches=16", "--set", "fab.evalAisSamples=32", "--set", "fab.evalAisBatch=16",
                                     "--set", "evalFlowSamples=64", "--set", "marginalDraws=2", "--set", "logEvery=1", "--quiet"};
    std::vector<std::string> first = args;
    first.insert(first.end(), {"--stop-after", "2"});
    Outcome a = run(first);
    ASSERT_EQ(a.code, 0) << a.err << a.out;
    EXPECT_NE(a.out.find("stopped"), std::string::npos) << a.out;
    std::vector<std::string> second = args;
    second.push_back("--resume");
    Outcome b = run(second);
    ASSERT_EQ(b.code, 0) << b.err << b.out;
    EXPECT_NE(b.out.find("final evaluation at step 4"), std::string::npos) << b.out;
    for (const char* metric : {"ais_ess", "reverse_ess", "test_forward_ess"})
        EXPECT_NE(b.out.find(metric), std::string::npos) << metric << "\n" << b.out;
    EXPECT_TRUE(fs::exists(fs::path(out) / "model.bgflow"));
    // The log carries FAB's own figures as 'method' rows.
    EXPECT_EQ(logValues(out, "method", "ais_acceptance").size(), 4u);
}

TEST(TrainCommand, AldpFabPresetHasHmcAcceptanceAndFiniteLoss) {
    // Alanine dipeptide FAB against OpenMM with the preset's AIS (initial step size, intermediate
    // distributions, leapfrog steps, energy regularisation) and a tiny flow, a few iterations: the
    // HMC moves are accepted from the first AIS pass on (with a step size of 1 nm none were) and
    // the loss is finite.
    const std::string out = freshOut("aldp-fab");
    Outcome r = run({"train", "--system", "aldp", "--method", "fab", "--out", out, "--threads", "1", "--seed", "2", "--quiet",
                     "--set", "flow.numBlocks=1", "--set", "flow.egnnLayers=1", "--set", "flow.egnnWidth=8", "--set",
                     "flow.invariantFeatures=8", "--set", "flow.headWidths=[8]", "--set", "batchSize=16", "--set",
                     "fab.updatesPerIteration=2", "--set", "fab.bufferMinBatches=2", "--set", "logEvery=1", "--stop-after", "2"});
    ASSERT_EQ(r.code, 0) << r.err << r.out;
    const std::vector<double> acceptance = logValues(out, "method", "ais_acceptance"), loss = logValues(out, "train", "loss");
    ASSERT_EQ(acceptance.size(), 2u);
    ASSERT_EQ(loss.size(), 2u);
    for (int i = 0; i < 2; i++) {
        EXPECT_GT(acceptance[i], 0.2) << "iteration " << i + 1;
        EXPECT_TRUE(std::isfinite(loss[i])) << "iteration " << i + 1;
    }
}

TEST(TrainCommand, BadArgumentsGiveExitCode2) {
    const std::string data = syntheticDataDirectory();
    auto with = [&](std::vector<std::string> extra, const std::string& out) {
        std::vector<std::string> args = {"train", "--out", freshOut(out), "--data-dir", data};
        args.insert(args.end(), extra.begin(), extra.end());
        return run(args);
    };
    Outcome unknownSystem = with({"--system", "dw5", "--method", "ml"}, "bad1");
    EXPECT_EQ(unknownSystem.code, 2);
    EXPECT_NE(unknownSystem.err.find("dw5"), std::string::npos) << unknownSystem.err;
    EXPECT_EQ(with({"--system", "dw4", "--method", "sgd"}, "bad2").code, 2);
    Outcome unknownKey = with({"--system", "dw4", "--method", "ml", "--set", "batchsize=3"}, "bad3");
    EXPECT_EQ(unknownKey.code, 2);
    EXPECT_NE(unknownKey.err.find("batchsize"), std::string::npos) << unknownKey.err;
    EXPECT_EQ(with({"--system", "dw4", "--method", "ml", "--set", "flow.numBlock=3"}, "bad4").code, 2);
    EXPECT_EQ(with({"--system", "dw4", "--method", "ml", "--set", "batchSize=-1"}, "bad5").code, 2);
    EXPECT_EQ(with({"--system", "dw4", "--method", "ml", "--set", "noequals"}, "bad6").code, 2);
    Outcome fab = with({"--system", "dw4", "--method", "fab", "--set", "fab.weightClip=0"}, "bad7");
    EXPECT_EQ(fab.code, 2);
    EXPECT_NE(fab.err.find("weightClip"), std::string::npos) << fab.err;
    EXPECT_EQ(with({"--system", "lj13", "--method", "ml"}, "bad8").code, 2);   // no lj13 data in the synthetic directory
    EXPECT_EQ(with({"--system", "dw4", "--method", "ml", "--resume"}, "bad9").code, 2);   // nothing to resume
    Outcome otherTemperature = with({"--system", "dw4", "--method", "ml", "--temperature", "400"}, "bad12");   // no 400 K samples
    EXPECT_EQ(otherTemperature.code, 2);
    EXPECT_NE(otherTemperature.err.find("300 K"), std::string::npos) << otherTemperature.err;
    EXPECT_NE(otherTemperature.err.find("--method fab"), std::string::npos) << otherTemperature.err;
    EXPECT_EQ(run({"train", "--system", "dw4"}).code, 2);     // missing required options
    EXPECT_EQ(run({"frobnicate"}).code, 2);                   // unknown subcommand
    EXPECT_EQ(run({"train", "--system", "dw4", "--method", "ml", "--out", freshOut("bad10"), "--data-dir", data, "--bogus"}).code, 2);
    EXPECT_EQ(run({"--help"}).code, 0);
    ::unsetenv("RANK");   // --distributed outside a launcher: refused, naming the missing variable
    Outcome noLauncher = with({"--system", "dw4", "--method", "fab", "--distributed"}, "bad11");
    EXPECT_EQ(noLauncher.code, 2);
    EXPECT_NE(noLauncher.err.find("RANK"), std::string::npos) << noLauncher.err;
}

TEST(TrainCommand, ConfigurationFilesWithDuplicateKeysAreRefused) {
    const std::string data = syntheticDataDirectory();
    const fs::path dir = freshOut("duplicate-keys-files");
    fs::create_directories(dir);
    const std::string flowFile = (dir / "flow.json").string(), trainingFile = (dir / "training.json").string();
    std::ofstream(flowFile) << R"({"numBlocks": 1, "egnnWidth": 8, "numBlocks": 2})";
    std::ofstream(trainingFile) << R"({"epochs": 2, "schedule": {"peakLr": 1e-3, "peakLr": 1e-2}})";
    Outcome flow = run({"train", "--system", "dw4", "--method", "ml", "--out", freshOut("dup1"), "--data-dir", data, "--flow-config", flowFile});
    EXPECT_EQ(flow.code, 2);
    EXPECT_NE(flow.err.find("duplicate key 'numBlocks'"), std::string::npos) << flow.err;
    Outcome training =
        run({"train", "--system", "dw4", "--method", "ml", "--out", freshOut("dup2"), "--data-dir", data, "--training-config", trainingFile});
    EXPECT_EQ(training.code, 2);
    EXPECT_NE(training.err.find("duplicate key 'peakLr'"), std::string::npos) << training.err;
}

TEST(TrainCommand, EvaluateAndSampleATrainedModel) {
    const std::string out = freshOut("evaluate"), samplesOut = freshOut("samples");
    ASSERT_EQ(run(tinyRun(out)).code, 0);
    const std::string model = (fs::path(out) / "model.bgflow").string();
    Outcome e = run({"evaluate", "--model", model, "--system", "dw4", "--data-dir", syntheticDataDirectory(), "--samples", "64",
                     "--draws", "2", "--seed", "3"});
    ASSERT_EQ(e.code, 0) << e.err;
    for (const char* metric : {"reverse_ess", "test_nll", "test_forward_ess"})
        EXPECT_NE(e.out.find(metric), std::string::npos) << metric << " missing in\n" << e.out;
    // The same seed gives the same figures.
    Outcome again = run({"evaluate", "--model", model, "--system", "dw4", "--data-dir", syntheticDataDirectory(), "--samples", "64",
                         "--draws", "2", "--seed", "3"});
    EXPECT_EQ(again.out, e.out);
    EXPECT_EQ(e.out.find("reverse_ess_draws"), std::string::npos);
    // Weights over several augmented draws: the joint figure and the M-draw one.
    Outcome drawn = run({"evaluate", "--model", model, "--system", "dw4", "--data-dir", syntheticDataDirectory(), "--samples", "64",
                         "--weight-draws", "3"});
    ASSERT_EQ(drawn.code, 0) << drawn.err;
    EXPECT_NE(drawn.out.find("reverse_ess_draws"), std::string::npos) << drawn.out;
    EXPECT_EQ(run({"evaluate", "--model", model, "--system", "dw4", "--weight-draws", "0"}).code, 2);

    Outcome s = run({"sample", "--model", model, "--system", "dw4", "--data-dir", syntheticDataDirectory(), "--samples", "40", "--out",
                     samplesOut});
    ASSERT_EQ(s.code, 0) << s.err;
    torch::Tensor x = bg::readNpy((fs::path(samplesOut) / "samples.npy").string());
    torch::Tensor logW = bg::readNpy((fs::path(samplesOut) / "sample-logweights.npy").string());
    EXPECT_EQ(x.sizes(), (std::vector<int64_t>{40, 4, 2}));
    EXPECT_EQ(logW.sizes(), (std::vector<int64_t>{40}));
    EXPECT_LT(x.mean(1).abs().max().item<double>(), 1e-5);   // zero centre of mass

    // Bad input: a model for another system, a missing file, sample without --out, an ODE solver for the E-ACF.
    EXPECT_EQ(run({"sample", "--model", model, "--system", "lj13", "--out", samplesOut}).code, 2);
    Outcome solver = run({"evaluate", "--model", model, "--system", "dw4", "--data-dir", syntheticDataDirectory(), "--solver", "rk4"});
    EXPECT_EQ(solver.code, 2);
    EXPECT_NE(solver.err.find("apply to the E-CNF"), std::string::npos) << solver.err;
    EXPECT_EQ(run({"evaluate", "--model", out + "/missing.bgflow", "--system", "dw4"}).code, 2);
    EXPECT_EQ(run({"sample", "--model", model, "--system", "dw4"}).code, 2);
}

TEST(TrainCommand, InitModelStartsFromASavedModel) {
    // A warm start: FAB from the model of a maximum-likelihood run. With a learning rate of 1e-30 (no visible change) the FAB
    // run's model must be the saved one (its configuration, not the preset's, and its weights).
    const std::string mlOut = freshOut("warm-ml"), fabOut = freshOut("warm-fab");
    ASSERT_EQ(run(tinyRun(mlOut)).code, 0);
    const std::string saved = (fs::path(mlOut) / "model.bgflow").string();
    std::vector<std::string> fab = {"train", "--system", "dw4", "--method", "fab", "--out", fabOut, "--data-dir", syntheticDataDirectory(),
                                    "--threads", "1", "--seed", "9", "--init-model", saved, "--set", "epochs=1", "--set", "batchSize=16",
                                    "--set", "schedule.initialLr=1e-30", "--set", "schedule.peakLr=1e-30", "--set", "schedule.endLr=1e-30",
                                    "--set", "fab.bufferMinBatches=8", "--set", "fab.bufferMaxBatches=16", "--set", "fab.evalAisSamples=16",
                                    "--set", "fab.evalAisBatch=16", "--set", "evalFlowSamples=16", "--set", "marginalDraws=2", "--quiet"};
    Outcome r = run(fab);
    ASSERT_EQ(r.code, 0) << r.err << r.out;
    std::ifstream config(fs::path(fabOut) / "flow-config.json");
    std::string configText((std::istreambuf_iterator<char>(config)), std::istreambuf_iterator<char>());
    configText.erase(std::remove_if(configText.begin(), configText.end(), ::isspace), configText.end());
    EXPECT_NE(configText.find("\"numBlocks\":1"), std::string::npos) << configText;
    auto evaluate = [](const std::string& model) {
        Outcome e = run({"evaluate", "--model", model, "--system", "dw4", "--data-dir", syntheticDataDirectory(), "--samples", "32",
                         "--draws", "2", "--seed", "3"});
        EXPECT_EQ(e.code, 0) << e.err;
        return e.out.substr(e.out.find('\n'));   // the figures, without the line naming the file
    };
    EXPECT_EQ(evaluate((fs::path(fabOut) / "model.bgflow").string()), evaluate(saved));

    // Flow settings cannot change a saved model; a missing file is refused.
    std::vector<std::string> withFlowSet = fab;
    withFlowSet[6] = freshOut("warm-bad");
    withFlowSet.insert(withFlowSet.end(), {"--set", "flow.numBlocks=2"});
    EXPECT_EQ(run(withFlowSet).code, 2);
    std::vector<std::string> missing = fab;
    missing[6] = freshOut("warm-missing");
    missing[14] = mlOut + "/missing.bgflow";
    Outcome m = run(missing);
    EXPECT_EQ(m.code, 2);
    EXPECT_NE(m.err.find("--init-model"), std::string::npos) << m.err;
}
