#ifndef BG_TESTS_DRIVER_TEST_UTILITIES_H_
#define BG_TESTS_DRIVER_TEST_UTILITIES_H_

// Helpers of the TrainingDriver tests: an uninterrupted run beside one stopped and resumed from its
// checkpoint, and bitwise comparisons of their parameters and final figures.

#include "TrainingTestUtilities.h"
#include "bg/TrainingDriver.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <memory>
#include <set>
#include <string>

namespace bgtest {

/**
 * The data and configuration of the short driver runs: dimer data (64 training and 20 test
 * configurations of 2 particles in 2D), B 16 (4 steps per epoch) for 3 epochs = 12 steps,
 * evaluations every 4 steps in passes of 32 rows, 'train' rows every 2 steps.
 */
struct ShortRun {
    torch::Tensor train, test;
    bg::TrainingConfig config;
    ShortRun() {
        torch::Generator g = at::make_generator<at::CPUGeneratorImpl>(99);
        train = dimerData(64, 1.5, 0.15, g);
        test = dimerData(20, 1.5, 0.15, g);
        config.batchSize = 16;
        config.epochs = 3;
        config.schedule = {1e-4, 3e-3, 1e-4, 1};
        config.evalEvery = 4;
        config.evalBatchSize = 32;
        config.logEvery = 2;
    }
    /** Quiet driver options for the output directory `dir`, stopping after stopAfter steps (0: no stop). */
    static bg::DriverOptions options(const std::string& dir, int64_t stopAfter) {
        bg::DriverOptions o;
        o.outputDirectory = dir;
        o.quiet = true;
        o.stopAfter = stopAfter;
        return o;
    }
};

/** The drivers and results of an uninterrupted run and of a run stopped, then resumed to the end. */
struct StraightAndResumed {
    std::unique_ptr<bg::TrainingDriver> straight, resumed;
    bg::RunResult straightResult, resumedResult;
};

/**
 * make(directory, stopAfter) creates a driver (stopAfter 0: no stop). Runs one driver to the end in
 * a fresh directory, and in another one a driver stopped after stopAfter steps, then a new driver
 * resumed from its checkpoint to the end; checks the stop and the resumed step on the way.
 */
template <class Make>
StraightAndResumed runStraightAndResumed(const std::string& name, int64_t stopAfter, Make make) {
    StraightAndResumed r;
    const std::string straight = freshDirectory(name + "-straight"), split = freshDirectory(name + "-split");
    r.straight = make(straight, 0);
    r.straightResult = r.straight->run();
    std::unique_ptr<bg::TrainingDriver> stopped = make(split, stopAfter);
    const bg::RunResult first = stopped->run();
    EXPECT_FALSE(first.finished);
    EXPECT_EQ(first.step, stopAfter);
    EXPECT_EQ(first.stopReason, "stop-after");
    stopped.reset();
    r.resumed = make(split, 0);
    r.resumed->resumeFromCheckpoint();
    EXPECT_EQ(r.resumed->getStep(), stopAfter);
    r.resumedResult = r.resumed->run();
    return r;
}

/** Expect the parameters of two modules to be equal bitwise, name by name. */
inline void expectSameParameters(torch::nn::Module& a, torch::nn::Module& b) {
    auto pa = a.named_parameters(), pb = b.named_parameters();
    ASSERT_EQ(pa.size(), pb.size());
    for (const auto& item : pa)
        EXPECT_TRUE(torch::equal(item.value(), pb[item.key()])) << item.key();
}

/** Whether training changed any parameter of `trained` from those of `initial`. */
inline bool parametersChanged(torch::nn::Module& initial, torch::nn::Module& trained) {
    auto start = initial.named_parameters();
    bool changed = false;
    for (const auto& item : trained.named_parameters())
        changed |= !torch::equal(item.value(), start[item.key()]);
    return changed;
}

/** Expect the same figures in the same order, bitwise, except the values named in `skip` (wall times). */
inline void expectSameFigures(const bg::NamedValues& a, const bg::NamedValues& b, const std::set<std::string>& skip = {}) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); i++) {
        EXPECT_EQ(a[i].first, b[i].first);
        if (skip.count(a[i].first) == 0)
            EXPECT_EQ(a[i].second, b[i].second) << a[i].first;
    }
}

/**
 * Expect both runs of runStraightAndResumed() to have finished at the same step with bitwise equal
 * parameters, optimiser step counts and final figures (except the values named in `skip`).
 */
inline void expectResumedRunMatches(const StraightAndResumed& r, const std::set<std::string>& skip = {}) {
    EXPECT_TRUE(r.straightResult.finished);
    EXPECT_TRUE(r.resumedResult.finished);
    EXPECT_EQ(r.straightResult.step, r.resumedResult.step);
    expectSameParameters(r.straight->getModel().module(), r.resumed->getModel().module());
    EXPECT_EQ(r.straight->getOptimizer().stepsTaken(), r.resumed->getOptimizer().stepsTaken());
    // The final evaluations (same step, same evaluation seed, same weights) agree exactly.
    expectSameFigures(r.straightResult.finalMetrics, r.resumedResult.finalMetrics, skip);
}

} // namespace bgtest

#endif
