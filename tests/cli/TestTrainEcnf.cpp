// The E-CNF on the openmm-bg command line, in-process on DW4 with a tiny model and synthetic
// reference data: flow matching with stop and bitwise resume, evaluate and sample of the saved
// E-CNF, and exit code 2 for methods and models that do not go together.

#include "CommandTestUtilities.h"
#include "bg/GenerativeModel.h"
#include "bg/NpyIO.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace clitest;
namespace fs = std::filesystem;

namespace {

/** A DW4 flow-matching run of a tiny E-CNF: 64 samples, B 16, 2 epochs = 8 steps, RK4 with 4 steps for the densities. */
std::vector<std::string> tinyEcnfRun(const std::string& out) {
    return {"train", "--model", "ecnf", "--system", "dw4", "--method", "fm", "--out", out, "--data-dir", syntheticDataDirectory(),
            "--threads", "1", "--seed", "5", "--set", "flow.egnnLayers=1", "--set", "flow.egnnWidth=8", "--set", "flow.invariantFeatures=8",
            "--set", "flow.solver=rk4", "--set", "flow.rk4Steps=4", "--set", "epochs=2", "--set", "batchSize=16",
            "--set", "schedule.warmupEpochs=1", "--set", "evalFlowSamples=24", "--set", "logEvery=2", "--eval-every", "4"};
}

std::string fileBytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    return bytes.str();
}

/** The printed figures without the line of the sampling wall time. */
std::string withoutTimings(const std::string& text) {
    std::istringstream lines(text);
    std::string line, kept;
    while (std::getline(lines, line))
        if (line.find("sample_seconds_per_1024") == std::string::npos)
            kept += line + "\n";
    return kept;
}

} // namespace

TEST(TrainEcnf, FlowMatchingResumesBitwiseAndTheModelEvaluates) {
    const std::string straight = freshOut("ecnf-straight"), split = freshOut("ecnf-split"), samplesOut = freshOut("ecnf-samples");
    Outcome a = run(tinyEcnfRun(straight));
    ASSERT_EQ(a.code, 0) << a.err << a.out;
    EXPECT_NE(a.out.find("fm of the E-CNF"), std::string::npos) << a.out;
    EXPECT_NE(a.out.find("final evaluation at step 8"), std::string::npos) << a.out;
    for (const char* metric : {"reverse_ess", "test_nll", "test_forward_ess", "sample_nfe"})
        EXPECT_NE(a.out.find(metric), std::string::npos) << metric << "\n" << a.out;
    EXPECT_NE(fileBytes(straight + "/flow-config.json").find("\"model\": \"ecnf\""), std::string::npos);

    std::vector<std::string> first = tinyEcnfRun(split), second = tinyEcnfRun(split);
    first.insert(first.end(), {"--stop-after", "3", "--quiet"});
    second.insert(second.end(), {"--resume", "--quiet"});
    ASSERT_EQ(run(first).code, 0);
    Outcome resumed = run(second);
    ASSERT_EQ(resumed.code, 0) << resumed.err;
    EXPECT_NE(resumed.out.find("final evaluation at step 8"), std::string::npos) << resumed.out;
    // The resumed run's model is the uninterrupted run's, byte for byte.
    const std::string model = straight + "/model.bgflow";
    EXPECT_EQ(fileBytes(split + "/model.bgflow"), fileBytes(model));
    EXPECT_EQ(bg::loadModelFromFile(model)->kind(), "ecnf");

    const std::vector<std::string> evaluate = {"evaluate", "--model", model, "--system", "dw4", "--data-dir", syntheticDataDirectory(),
                                               "--samples", "16", "--seed", "3"};
    Outcome e = run(evaluate);
    ASSERT_EQ(e.code, 0) << e.err;
    EXPECT_NE(e.out.find("the E-CNF"), std::string::npos) << e.out;
    for (const char* metric : {"reverse_ess", "test_nll", "test_forward_ess"})
        EXPECT_NE(e.out.find(metric), std::string::npos) << metric << " missing in\n" << e.out;
    EXPECT_EQ(withoutTimings(run(evaluate).out), withoutTimings(e.out));   // the same seed, the same figures
    // A fixed-step solver for the draws: RK4 with 3 steps is 12 field evaluations per solve.
    std::vector<std::string> rk4 = evaluate;
    rk4.insert(rk4.end(), {"--rk4-steps", "3"});
    Outcome r = run(rk4);
    ASSERT_EQ(r.code, 0) << r.err;
    auto nfe = [](const std::string& out) {
        const size_t at = out.find("sample_nfe");
        return at == std::string::npos ? -1.0 : std::stod(out.substr(at + 10));
    };
    EXPECT_EQ(nfe(r.out), 12.0) << r.out;
    EXPECT_GT(nfe(e.out), 12.0) << e.out;   // the model's own Dormand-Prince
    rk4.insert(rk4.end(), {"--solver", "dopri5"});
    EXPECT_EQ(run(rk4).code, 2);
    // The divergence of the densities: exact is the model's own (the same figures), one Hutchinson
    // probe gives another test NLL from the same draws.
    auto withDivergence = [&](const char* method) {
        std::vector<std::string> args = evaluate;
        args.insert(args.end(), {"--divergence", method});
        return run(args);
    };
    Outcome exact = withDivergence("exact"), hutchinson = withDivergence("hutchinson");
    ASSERT_EQ(exact.code, 0) << exact.err;
    ASSERT_EQ(hutchinson.code, 0) << hutchinson.err;
    EXPECT_EQ(withoutTimings(exact.out), withoutTimings(e.out));
    auto testNll = [](const std::string& out) {
        const size_t at = out.find("test_nll");
        return at == std::string::npos ? NAN : std::stod(out.substr(at + 8));
    };
    EXPECT_TRUE(std::isfinite(testNll(hutchinson.out))) << hutchinson.out;
    EXPECT_GT(std::abs(testNll(hutchinson.out) - testNll(e.out)), 1e-6) << hutchinson.out << e.out;
    EXPECT_EQ(withDivergence("trace").code, 2);

    Outcome s = run({"sample", "--model", model, "--system", "dw4", "--data-dir", syntheticDataDirectory(), "--samples", "12", "--out",
                     samplesOut});
    ASSERT_EQ(s.code, 0) << s.err;
    torch::Tensor x = bg::readNpy(samplesOut + "/samples.npy"), logW = bg::readNpy(samplesOut + "/sample-logweights.npy");
    EXPECT_EQ(x.sizes(), (std::vector<int64_t>{12, 4, 2}));
    EXPECT_EQ(logW.sizes(), (std::vector<int64_t>{12}));
    EXPECT_LT(x.mean(1).abs().max().item<double>(), 1e-5);   // zero centre of mass
    EXPECT_TRUE(torch::isfinite(logW).all().item<bool>());
    EXPECT_EQ(run({"sample", "--model", model, "--system", "lj13", "--out", samplesOut}).code, 2);   // another system's N and D
}

TEST(TrainEcnf, WrongModelAndMethodPairsExitWithCode2) {
    const std::string data = syntheticDataDirectory();
    auto with = [&](std::vector<std::string> extra, const std::string& out) {
        std::vector<std::string> args = {"train", "--system", "dw4", "--out", freshOut(out), "--data-dir", data};
        args.insert(args.end(), extra.begin(), extra.end());
        return run(args);
    };
    auto expectRefused = [](const Outcome& o, const std::string& message) {
        EXPECT_EQ(o.code, 2) << o.out;
        EXPECT_NE(o.err.find(message), std::string::npos) << o.err;
    };
    expectRefused(with({"--model", "ecnf", "--method", "fab"}, "pair1"),
                  "FAB (--method fab) needs the E-ACF (--model eacf), not the E-CNF; the E-CNF trains with --method fm");
    expectRefused(with({"--model", "ecnf", "--method", "ml"}, "pair2"), "maximum likelihood (--method ml) needs the E-ACF");
    expectRefused(with({"--method", "fm"}, "pair3"),
                  "flow matching (--method fm) needs the E-CNF (--model ecnf), not the E-ACF; the E-ACF trains with --method ml or fab");
    expectRefused(with({"--model", "gan", "--method", "fm"}, "pair4"), "--model must be eacf");
    expectRefused(with({"--model", "ecnf", "--method", "fm", "--distributed"}, "pair5"), "--distributed");
    expectRefused(with({"--model", "ecnf", "--method", "fm", "--set", "flow.model=eacf"}, "pair6"),
                  "the flow configuration is for the E-ACF, but --model is ecnf");
    expectRefused(with({"--model", "ecnf", "--method", "fm", "--set", "flow.numBlocks=2"}, "pair7"), "numBlocks");
    expectRefused(with({"--model", "ecnf", "--method", "fm", "--set", "fm.pairing=sinkhorn"}, "pair8"), "sinkhorn");
}
