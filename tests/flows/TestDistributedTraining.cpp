// Data-parallel training on c10d (docs/distributed.md): ranks are this test executable started again
// as separate processes (RANK, WORLD_SIZE, MASTER_ADDR=127.0.0.1, MASTER_PORT=<free port>) that run
// DistributedWorker.Run, which trains through a TrainingDriver and saves what the tests compare.

#include "RankLauncher.h"
#include "TrainingTestUtilities.h"
#include "bg/DistributedContext.h"
#include "bg/DistributedTraining.h"
#include "bg/FabMethod.h"
#include "bg/MaximumLikelihoodMethod.h"
#include "bg/TrainingDriver.h"
#include "bg/TrainingMethodFactory.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

using namespace bg;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using bgtest::Rank;
using bgtest::readText;
using bgtest::startRanks;
using bgtest::waitForRanks;

namespace {

// ---- The runs a rank does ---------------------------------------------------------------------

const int64_t mlGlobalBatch = 8;     // 1 rank x 8 = 2 ranks x 4
const int64_t fabGlobalBatch = 128;  // 1 rank x 128 = 2 ranks x 64

std::string env(const char* name, const std::string& fallback = "") {
    const char* value = std::getenv(name);
    return value != nullptr ? value : fallback;
}

TrainingConfig mlConfig(int ranks) {
    TrainingConfig c;
    c.batchSize = mlGlobalBatch / ranks;
    c.epochs = 2;   // 32 samples: 4 updates of the global batch per epoch
    c.schedule = {1e-3, 1e-2, 1e-3, 0.5};
    c.evalFlowSamples = 16;
    c.evalBatchSize = 16;
    c.marginalDraws = 2;
    c.seed = 17;
    return c;
}

TrainingConfig fabConfig(int ranks, int64_t iterations) {
    TrainingConfig c;
    c.method = "fab";
    c.batchSize = env("BG_DIST_BATCH").empty() ? fabGlobalBatch / ranks : std::stoll(env("BG_DIST_BATCH"));
    c.epochs = iterations;
    c.schedule = {3e-3, 3e-3, 3e-3, 0};
    c.evalFlowSamples = 16;
    c.evalBatchSize = 16;
    c.checkpointEvery = env("BG_DIST_CHECKPOINT_EVERY").empty() ? 0 : std::stoll(env("BG_DIST_CHECKPOINT_EVERY"));
    c.seed = 23;
    c.logEvery = 1;
    c.fab = R"({"updatesPerIteration": 4, "bufferMaxBatches": 16, "bufferMinBatches": 4, "evalAisSamples": 16, "evalAisBatch": 16,
                "ais": {"numIntermediate": 2}})";
    return c;
}

FlowConfig fabFlowConfig() {
    FlowConfig c = bgtest::tinyFlowConfig(4, 2);
    c.projection = Projection::Cartesian;   // affine couplings: the scale is quick to learn
    c.innerTransform = InnerTransform::Affine;
    return c;
}

torch::Tensor mlData() {
    torch::Generator g = at::make_generator<at::CPUGeneratorImpl>(5);
    return bgtest::dimerData(32, 1.5, 0.15, g);
}

/**
 * The training target of the FAB tests: zero-CoM Gaussian of four particles in 2D, twice as wide as
 * the flow's base (k = 1/4), so that the initial flow must widen, and its exact samples.
 */
const double targetStiffness = 0.25;

/** -E[log q(x, a)] over 1024 exact target samples x and a ~ pi(a|x), both from fixed generators. */
double jointNll(AugmentedCouplingFlow& flow) {
    torch::NoGradGuard noGrad;
    at::Generator g = at::make_generator<at::CPUGeneratorImpl>(77);
    torch::Tensor x = torch::randn({1024, 4, 2}, g, torch::kFloat64) / std::sqrt(targetStiffness);
    x = x - x.mean(1, true);
    torch::Tensor a = flow->augmentedTarget().sample(x, flow->getConfig().numAugmented, g);
    return -flow->logProb(x, a).mean().item<double>();
}

/** Train as the environment says; returns the driver after the run (ranks: null context = one process). */
std::unique_ptr<TrainingDriver> train(const std::string& method, std::shared_ptr<DistributedContext> context, const std::string& dir,
                                      Target& target, int64_t stopAfter, bool resume, int64_t iterations) {
    const int ranks = context ? context->worldSize() : 1;
    torch::manual_seed(8);   // the same initial parameters on every rank and in every run
    AugmentedCouplingFlow flow(method == "ml" ? bgtest::tinyFlowConfig() : fabFlowConfig());
    TrainingMethodInputs inputs{flow, &target, method == "ml" ? mlData() : torch::Tensor(),
                                method == "ml" ? mlConfig(ranks) : fabConfig(ranks, iterations)};
    DriverOptions options;
    options.outputDirectory = dir;
    options.quiet = true;
    options.stopAfter = stopAfter;
    options.distributed = context;
    auto driver = std::make_unique<TrainingDriver>(flow, inputs.config, createTrainingMethod(method, inputs), torch::Tensor(),
                                                   method == "ml" ? nullptr : &target, options);
    if (resume)
        driver->resumeFromCheckpoint();
    driver->run();
    return driver;
}

/** What a rank leaves for the tests: parameters, and FAB's buffer weights and step sizes. */
void saveOutcome(TrainingDriver& driver, const std::string& path, double before, double after) {
    torch::serialize::OutputArchive archive;
    const std::vector<torch::Tensor> parameters = driver.getFlow()->parameters();
    for (size_t i = 0; i < parameters.size(); i++)
        archive.write("p" + std::to_string(i), parameters[i].detach());
    archive.write("count", torch::tensor({int64_t(parameters.size())}));
    archive.write("quality", torch::tensor({before, after}, torch::kFloat64));
    if (auto* fab = dynamic_cast<FabMethod*>(&driver.getMethod())) {
        archive.write("logW", fab->getBuffer()->logWeights());
        archive.write("stepSizes", torch::tensor(fab->getSampler().getStepSizes(), torch::kFloat64));
    }
    archive.save_to(path);
}

struct Outcome {
    std::vector<torch::Tensor> parameters;
    torch::Tensor logW, stepSizes;
    double before = 0, after = 0;
};

Outcome loadOutcome(const std::string& path) {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    Outcome o;
    torch::Tensor count, quality;
    archive.read("count", count);
    for (int64_t i = 0; i < count.item<int64_t>(); i++) {
        torch::Tensor p;
        archive.read("p" + std::to_string(i), p);
        o.parameters.push_back(p);
    }
    archive.read("quality", quality);
    o.before = quality[0].item<double>();
    o.after = quality[1].item<double>();
    archive.try_read("logW", o.logW);
    archive.try_read("stepSizes", o.stepSizes);
    return o;
}

std::map<std::string, std::string> withScenario(const std::string& scenario, const std::string& dir, std::map<std::string, std::string> extra) {
    extra["BG_DIST_SCENARIO"] = scenario;
    extra["BG_DIST_DIR"] = dir;
    return extra;
}

/** Run `world` ranks to completion; expects each to exit 0 (its log is shown otherwise). */
void runRanks(int world, const std::string& scenario, const std::string& dir, std::map<std::string, std::string> extra = {}) {
    std::vector<Rank> ranks = startRanks(world, {"--gtest_filter=DistributedWorker.Run"}, dir, withScenario(scenario, dir, extra));
    ASSERT_TRUE(waitForRanks(ranks, 120.0)) << "ranks did not finish in time";
    for (int r = 0; r < world; r++)
        ASSERT_TRUE(WIFEXITED(ranks[r].status) && WEXITSTATUS(ranks[r].status) == 0)
                << "rank " << r << " failed:\n" << readText(dir + "/rank" + std::to_string(r) + ".log");
}

void expectSameParameters(const Outcome& a, const Outcome& b, double tolerance, const std::string& what) {
    ASSERT_EQ(a.parameters.size(), b.parameters.size());
    for (size_t i = 0; i < a.parameters.size(); i++) {
        if (tolerance == 0.0)
            EXPECT_TRUE(torch::equal(a.parameters[i], b.parameters[i])) << what << ", parameter " << i;
        else
            EXPECT_TRUE(torch::allclose(a.parameters[i], b.parameters[i], 0.0, tolerance))
                    << what << ", parameter " << i << ": max difference " << (a.parameters[i] - b.parameters[i]).abs().max().item<double>();
    }
}

} // namespace

// The entry point of a started rank; skipped when the test executable runs normally.
TEST(DistributedWorker, Run) {
    const std::string scenario = env("BG_DIST_SCENARIO");
    if (scenario.empty())
        GTEST_SKIP() << "runs only as a rank started by the tests below";
    torch::set_num_threads(1);
    try {
        const std::string dir = env("BG_DIST_DIR");
        auto context = DistributedContext::fromEnvironment(std::stod(env("BG_DIST_TIMEOUT", "60")));
        const std::string& method = scenario;   // "ml" or "fab"
        bgtest::HarmonicTarget target(4, 2, targetStiffness);
        const int64_t iterations = std::stoll(env("BG_DIST_ITERATIONS", "6"));
        const std::string out = dir + "/" + env("BG_DIST_OUTPUT", "run");
        torch::manual_seed(8);   // the initial flow of train()
        AugmentedCouplingFlow initial(fabFlowConfig());
        const double before = method == "fab" ? jointNll(initial) : 0.0;
        auto driver = train(method, context, out, target, std::stoll(env("BG_DIST_STOP_AFTER", "0")), env("BG_DIST_RESUME") == "1", iterations);
        const double after = method == "fab" ? jointNll(driver->getFlow()) : 0.0;
        saveOutcome(*driver, out + "-rank" + std::to_string(context->rank()) + ".pt", before, after);
        std::cout << "test NLL: " << before << " -> " << after << std::endl;
        if (!driver->getResumeNote().empty())
            std::cout << driver->getResumeNote() << std::endl;
    }
    catch (const std::exception& e) {
        std::cerr << "worker error: " << e.what() << std::endl;
        std::_Exit(3);   // no orderly teardown: a peer may be gone
    }
}

TEST(DistributedTraining, SettingsFromTheEnvironment) {
    ::setenv("RANK", "1", 1);
    ::setenv("WORLD_SIZE", "4", 1);
    ::setenv("MASTER_ADDR", "node7", 1);
    ::setenv("MASTER_PORT", "1234", 1);
    ::unsetenv("LOCAL_RANK");
    DistributedSettings s = DistributedContext::settingsFromEnvironment(12.0);
    EXPECT_EQ(s.rank, 1);
    EXPECT_EQ(s.worldSize, 4);
    EXPECT_EQ(s.localRank, 1);
    EXPECT_EQ(s.masterAddress, "node7");
    EXPECT_EQ(s.masterPort, 1234);
    EXPECT_EQ(s.timeoutSeconds, 12.0);
    EXPECT_FALSE(s.launcherServesStore);
    ::setenv("TORCHELASTIC_USE_AGENT_STORE", "True", 1);   // torchrun serves the store: rank 0 connects to it
    EXPECT_TRUE(DistributedContext::settingsFromEnvironment().launcherServesStore);
    ::unsetenv("TORCHELASTIC_USE_AGENT_STORE");
    ::setenv("RANK", "4", 1);
    EXPECT_THROW(DistributedContext::settingsFromEnvironment(), std::invalid_argument);
    ::setenv("RANK", "x", 1);
    EXPECT_THROW(DistributedContext::settingsFromEnvironment(), std::invalid_argument);
    ::unsetenv("RANK");
    try {
        DistributedContext::settingsFromEnvironment();
        ADD_FAILURE() << "no error without RANK";
    }
    catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("RANK"), std::string::npos) << e.what();
    }
    for (const char* name : {"WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"})
        ::unsetenv(name);
    EXPECT_EQ(encodeNamedValues(decodeNamedValues(encodeNamedValues({{"a", 0.1}, {"b", -3e300}}))), encodeNamedValues({{"a", 0.1}, {"b", -3e300}}));
}

TEST(DistributedTraining, TwoRanksWithHalfBatchesMatchOneRankWithTheWholeBatch) {
    // Maximum likelihood, float64: 2 ranks x batch 4 on the shards of one shuffle take the same 8
    // updates as 1 process with batch 8; the ranks end bitwise equal to each other.
    torch::set_num_threads(1);
    const std::string dir = bgtest::freshDirectory("dist-ml");
    bgtest::HarmonicTarget unused(2, 2);
    auto single = train("ml", nullptr, dir + "/single", unused, 0, false, 0);
    EXPECT_EQ(single->getOptimizer().stepsTaken(), 8);
    saveOutcome(*single, dir + "/single.pt", 0, 0);
    ASSERT_NO_FATAL_FAILURE(runRanks(2, "ml", dir));
    const Outcome one = loadOutcome(dir + "/single.pt"), r0 = loadOutcome(dir + "/run-rank0.pt"), r1 = loadOutcome(dir + "/run-rank1.pt");
    expectSameParameters(r0, r1, 0.0, "rank 0 vs rank 1");
    // Adam divides by the root of the second moment, which magnifies the last bits of near-zero
    // gradient entries that the two ranks sum in another order: 1e-6 is far below the changes
    // training makes (checked below) and far above what a missing reduction would leave.
    expectSameParameters(one, r0, 1e-6, "one process vs two ranks");
    // Training moved the parameters well beyond the tolerance.
    torch::manual_seed(8);
    AugmentedCouplingFlow initial(bgtest::tinyFlowConfig());
    double moved = 0;
    for (size_t i = 0; i < one.parameters.size(); i++)
        moved = std::max(moved, (one.parameters[i] - initial->parameters()[i]).abs().max().item<double>());
    EXPECT_GT(moved, 1e-3);
}

TEST(DistributedTraining, FabWithTwoRanksLearnsLikeOneRank) {
    // FAB towards a Gaussian twice as wide as the initial flow: 1 rank x batch 128 and 2 ranks x
    // batch 64, 10 iterations each; both lower the NLL of exact target samples, by similar amounts,
    // and the two ranks keep identical parameters and AIS step sizes (with buffers of their own).
    torch::set_num_threads(1);
    const std::string dir = bgtest::freshDirectory("dist-fab");
    ASSERT_NO_FATAL_FAILURE(runRanks(1, "fab", dir, {{"BG_DIST_OUTPUT", "single"}, {"BG_DIST_ITERATIONS", "10"}}));
    ASSERT_NO_FATAL_FAILURE(runRanks(2, "fab", dir, {{"BG_DIST_ITERATIONS", "10"}}));
    const Outcome one = loadOutcome(dir + "/single-rank0.pt"), r0 = loadOutcome(dir + "/run-rank0.pt"), r1 = loadOutcome(dir + "/run-rank1.pt");
    expectSameParameters(r0, r1, 0.0, "rank 0 vs rank 1");
    EXPECT_TRUE(torch::equal(r0.stepSizes, r1.stepSizes));
    EXPECT_FALSE(torch::equal(r0.logW, r1.logW)) << "the ranks' buffers should hold their own samples";
    // Lower is better: the NLL of exact target samples. (Deterministic for the fixed seeds; measured
    // 10.404 -> 10.175 with one rank and 10.404 -> 10.331 with two.)
    const double gainOne = one.before - one.after, gainTwo = r0.before - r0.after;
    EXPECT_GT(gainOne, 0.03) << "one rank: " << one.before << " -> " << one.after;
    EXPECT_GT(gainTwo, 0.03) << "two ranks: " << r0.before << " -> " << r0.after;
    EXPECT_GT(gainTwo, 0.25 * gainOne) << "two ranks: " << r0.before << " -> " << r0.after << "; one rank: " << one.before << " -> "
                                       << one.after;
}

TEST(DistributedTraining, ResumeOfTwoRanksIsBitwiseIdentical) {
    // Two ranks run 6 FAB iterations straight, or 3, stop (rank 0 writes the checkpoint with both
    // ranks' buffers and generators) and resume for the rest: every rank ends bitwise equal. A
    // resume with one rank instead continues with a note of what was re-initialised.
    torch::set_num_threads(1);
    const std::string dir = bgtest::freshDirectory("dist-resume");
    ASSERT_NO_FATAL_FAILURE(runRanks(2, "fab", dir, {{"BG_DIST_OUTPUT", "straight"}, {"BG_DIST_BATCH", "8"}}));
    ASSERT_NO_FATAL_FAILURE(runRanks(2, "fab", dir, {{"BG_DIST_OUTPUT", "split"}, {"BG_DIST_STOP_AFTER", "3"}, {"BG_DIST_BATCH", "8"}}));
    fs::copy(dir + "/split", dir + "/shrunk", fs::copy_options::recursive);
    ASSERT_NO_FATAL_FAILURE(runRanks(2, "fab", dir, {{"BG_DIST_OUTPUT", "split"}, {"BG_DIST_RESUME", "1"}, {"BG_DIST_BATCH", "8"}}));
    for (int r = 0; r < 2; r++) {
        const std::string name = "-rank" + std::to_string(r) + ".pt";
        const Outcome a = loadOutcome(dir + "/straight" + name), b = loadOutcome(dir + "/split" + name);
        expectSameParameters(a, b, 0.0, "rank " + std::to_string(r));
        EXPECT_TRUE(torch::equal(a.logW, b.logW)) << "buffer of rank " << r;
        EXPECT_TRUE(torch::equal(a.stepSizes, b.stepSizes)) << "rank " << r;
    }
    ASSERT_NO_FATAL_FAILURE(runRanks(1, "fab", dir, {{"BG_DIST_OUTPUT", "shrunk"}, {"BG_DIST_RESUME", "1"}, {"BG_DIST_BATCH", "8"}}));
    const std::string log = readText(dir + "/rank0.log");
    EXPECT_NE(log.find("note: the checkpoint was written by 2 rank(s), this run has 1"), std::string::npos) << log;
}

TEST(DistributedTraining, ADeadOrHungRankEndsTheOthersWithAnError) {
    // Rank 1 is killed (or stopped) after the first checkpoint; rank 0 must end with an error that
    // names the failure, within the 4 s timeout (plus the machine's slack), not hang.
    torch::set_num_threads(1);
    for (int signal : {SIGKILL, SIGSTOP}) {
        const std::string dir = bgtest::freshDirectory(std::string("dist-fault-") + std::to_string(signal));
        std::vector<Rank> ranks = startRanks(2, {"--gtest_filter=DistributedWorker.Run"}, dir,
                                             withScenario("fab", dir, {{"BG_DIST_ITERATIONS", "100000"}, {"BG_DIST_TIMEOUT", "4"}, {"BG_DIST_BATCH", "8"},
                                                                       {"BG_DIST_CHECKPOINT_EVERY", "1"}}));
        const auto deadline = Clock::now() + std::chrono::seconds(60);
        while (!fs::exists(dir + "/run/checkpoint.pt") && Clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        ASSERT_TRUE(fs::exists(dir + "/run/checkpoint.pt")) << readText(dir + "/rank0.log");
        ::kill(ranks[1].pid, signal);
        const auto struck = Clock::now();
        std::vector<Rank> first{ranks[0]};
        const bool ended = waitForRanks(first, 40.0);
        ::kill(ranks[1].pid, SIGKILL);
        ::waitpid(ranks[1].pid, nullptr, 0);
        ASSERT_TRUE(ended) << "rank 0 kept running after rank 1 was " << (signal == SIGKILL ? "killed" : "stopped");
        const double seconds = std::chrono::duration<double>(first[0].ended - struck).count();
        EXPECT_LT(seconds, 4.0 + 16.0);
        EXPECT_TRUE(WIFEXITED(first[0].status) && WEXITSTATUS(first[0].status) == 3);
        const std::string log = readText(dir + "/rank0.log");
        EXPECT_NE(log.find("worker error: DistributedContext: rank 0 of 2:"), std::string::npos) << log;
        EXPECT_NE(log.find("a peer rank died, hung or diverged"), std::string::npos) << log;
    }
}
