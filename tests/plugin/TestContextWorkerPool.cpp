// ContextWorkerPool: rows shared out over worker threads that own OpenMM Contexts (SystemTarget's
// pool). Every row once, results independent of the number of workers, per-worker state living in
// its own thread, errors reaching the caller as OpenMMException, CPU binding.

#include "PlainContextPool.h"
#include "PluginTestEnvironment.h"
#include "internal/ContextWorkerPool.h"
#include "openmm/Context.h"
#include "openmm/HarmonicBondForce.h"
#include "openmm/NonbondedForce.h"
#include "openmm/OpenMMException.h"
#include "openmm/Platform.h"
#include "openmm/State.h"
#include "openmm/System.h"
#include "openmm/VerletIntegrator.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

namespace {

// Six charged particles in a chain of bonds, no cutoff.
System makeSystem() {
    System system;
    HarmonicBondForce* bonds = new HarmonicBondForce();
    NonbondedForce* nonbonded = new NonbondedForce();
    for (int i = 0; i < 6; i++) {
        system.addParticle(12.0);
        nonbonded->addParticle(i % 2 == 0 ? 0.3 : -0.3, 0.3, 0.5);
        if (i > 0)
            bonds->addBond(i - 1, i, 0.15, 1000.0);
    }
    system.addForce(bonds);
    system.addForce(nonbonded);
    return system;
}

vector<vector<Vec3>> makeConfigurations(int count) {
    mt19937 rng(5);
    normal_distribution<double> normal(0.0, 0.02);
    vector<vector<Vec3>> configurations(count);
    for (auto& positions : configurations)
        for (int i = 0; i < 6; i++)
            positions.push_back(Vec3(0.15 * i + normal(rng), normal(rng), normal(rng)));
    return configurations;
}

} // namespace

TEST(ContextWorkerPool, CoversEveryRowExactlyOnce) {
    for (int workers : {1, 2, 3}) {
        ContextWorkerPool pool("SystemTarget", workers, {}, {}, false);
        EXPECT_EQ(pool.getNumWorkers(), workers);
        for (int64_t rows : {0, 1, 5, 97, 1000}) {
            SCOPED_TRACE("workers " + to_string(workers) + ", rows " + to_string(rows));
            vector<atomic<int>> visits(rows);
            pool.execute(rows, [&](int k, int64_t begin, int64_t end) {
                EXPECT_TRUE(k >= 0 && k < workers);
                EXPECT_TRUE(begin >= 0 && begin < end && end <= rows);
                EXPECT_LE(end - begin, 32);
                for (int64_t b = begin; b < end; b++)
                    visits[b]++;
            });
            for (int64_t b = 0; b < rows; b++)
                ASSERT_EQ(visits[b].load(), 1) << "row " << b;
        }
    }
}

TEST(ContextWorkerPool, ContextEnergiesAreIndependentOfTheNumberOfWorkers) {
    loadOpenMMBGPlugins();
    const System system = makeSystem();
    const vector<vector<Vec3>> configurations = makeConfigurations(40);
    // A plain Context, one configuration at a time.
    VerletIntegrator integrator(0.001);
    Context context(system, integrator, Platform::getPlatformByName("CPU"), {{"Threads", "1"}});
    vector<double> expected;
    for (const auto& positions : configurations) {
        context.setPositions(positions);
        expected.push_back(context.getState(State::Energy).getPotentialEnergy());
    }
    for (int workers : {1, 2, 3}) {
        SCOPED_TRACE("workers " + to_string(workers));
        vector<double> energies = PlainContextPool(system, workers, false).energies(configurations, false);
        for (size_t b = 0; b < energies.size(); b++)
            ASSERT_EQ(energies[b], expected[b]) << "row " << b;   // bitwise: same Context code per row
    }
}

TEST(ContextWorkerPool, SetUpTasksAndTearDownRunInTheWorkersOwnThread) {
    const int workers = 3;
    vector<thread::id> setUpThread(workers), tearDownThread(workers);
    vector<vector<thread::id>> taskThreads(workers);
    mutex m;
    {
        ContextWorkerPool pool(
                "SystemTarget", workers, [&](int k) { setUpThread[k] = this_thread::get_id(); },
                [&](int k) { tearDownThread[k] = this_thread::get_id(); }, false);
        for (int repeat = 0; repeat < 3; repeat++)
            pool.execute(200, [&](int k, int64_t, int64_t) {
                lock_guard<mutex> lock(m);
                taskThreads[k].push_back(this_thread::get_id());
            });
    }
    for (int k = 0; k < workers; k++) {
        EXPECT_NE(setUpThread[k], this_thread::get_id());
        EXPECT_EQ(tearDownThread[k], setUpThread[k]);
        for (thread::id id : taskThreads[k])
            EXPECT_EQ(id, setUpThread[k]);
        for (int j = 0; j < k; j++)
            EXPECT_NE(setUpThread[j], setUpThread[k]);
    }
}

TEST(ContextWorkerPool, TaskExceptionsReachTheCallerAndThePoolRecovers) {
    for (int workers : {1, 2, 3}) {
        SCOPED_TRACE("workers " + to_string(workers));
        ContextWorkerPool pool("SystemTarget", workers, {}, {}, false);
        for (int repeat = 0; repeat < 3; repeat++) {
            // Several rows throw, in several workers at once: one exception reaches the caller.
            expectOpenMMException(
                    [&] {
                        pool.execute(500, [&](int, int64_t begin, int64_t end) {
                            for (int64_t b = begin; b < end; b++)
                                if (b % 7 == 3)
                                    throw runtime_error("row broke");
                        });
                    },
                    "SystemTarget", "a worker failed: row broke");
            expectOpenMMException([&] { pool.execute(10, [&](int, int64_t, int64_t) { throw 42; }); }, "SystemTarget",
                                  "unknown error");
            // The next batch runs normally.
            atomic<int64_t> done{0};
            pool.execute(300, [&](int, int64_t begin, int64_t end) { done += end - begin; });
            EXPECT_EQ(done.load(), 300);
        }
    }
}

TEST(ContextWorkerPool, SetUpFailureFailsConstructionAfterTearingDownStartedWorkers) {
    vector<atomic<int>> setUps(3), tearDowns(3);
    expectOpenMMException(
            [&] {
                ContextWorkerPool pool(
                        "SystemTarget", 3,
                        [&](int k) {
                            setUps[k]++;
                            if (k == 1)
                                throw OpenMMException("no Context for worker 1");
                        },
                        [&](int k) { tearDowns[k]++; }, false);
            },
            "SystemTarget", "no Context for worker 1");
    for (int k = 0; k < 3; k++) {
        EXPECT_EQ(setUps[k].load(), 1);
        EXPECT_EQ(tearDowns[k].load(), k == 1 ? 0 : 1) << "worker " << k;
    }
    expectOpenMMException([] { ContextWorkerPool("SystemTarget", 0, {}, {}, false); }, "SystemTarget", "at least one worker");
}

#ifdef __linux__
#include <sched.h>   // sched_getcpu

TEST(ContextWorkerPool, PinnedWorkersRunOnTheirOwnCpu) {
    const vector<int> allowed = allowedCpus();
    ASSERT_FALSE(allowed.empty());
    if (allowed.size() < 2)
        GTEST_SKIP() << "needs two CPUs";
    ContextWorkerPool pool("SystemTarget", 2, {}, {}, true);
    ASSERT_EQ(pool.getWorkerCpus(), vector<int>(allowed.begin(), allowed.begin() + 2));
    vector<atomic<int>> wrongCpu(2);
    pool.execute(64, [&](int k, int64_t, int64_t) {
        if (sched_getcpu() != pool.getWorkerCpus()[k])
            wrongCpu[k]++;
    });
    EXPECT_EQ(wrongCpu[0].load(), 0);
    EXPECT_EQ(wrongCpu[1].load(), 0);
    // More workers than CPUs: none is bound. The caller's own CPU set is untouched.
    ContextWorkerPool crowded("SystemTarget", (int) allowed.size() + 1, {}, {}, true);
    EXPECT_TRUE(crowded.getWorkerCpus().empty());
    EXPECT_EQ(allowedCpus(), allowed);
}
#endif
