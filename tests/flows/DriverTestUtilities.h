#ifndef BG_TESTS_DRIVER_TEST_UTILITIES_H_
#define BG_TESTS_DRIVER_TEST_UTILITIES_H_

// Helpers of the TrainingDriver tests: an uninterrupted run beside one stopped and resumed from its
// checkpoint, and bitwise comparisons of their parameters and final figures.

#include "TrainingTestUtilities.h"
#include "bg/TrainingDriver.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <memory>
#include <set>
#include <string>

namespace bgtest {

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

} // namespace bgtest

#endif
