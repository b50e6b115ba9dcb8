#ifndef OPENMM_BG_CONTEXT_WORKER_POOL_H_
#define OPENMM_BG_CONTEXT_WORKER_POOL_H_

#include "internal/windowsExportBoltzmannGenerator.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace BoltzmannPlugin {

/**
 * A fixed set of worker threads that share out the rows of a batch, each worker typically owning
 * one OpenMM Context (SystemTarget's pool of inner Contexts, and the benchmark's plain-Context
 * pool).
 *
 * Worker k runs setUp(k) once inside its own thread when the pool starts and tearDown(k) in the
 * same thread before it exits, so a Context created in setUp() lives and dies in one thread (and
 * threads the platform starts for it, such as the CPU platform's own thread, inherit the worker's
 * CPU binding). execute(numRows, task) calls task(k, begin, end) on the workers for disjoint
 * ranges [begin, end) that together cover [0, numRows) exactly once, and returns when all are
 * done. Ranges are claimed from a shared counter, large at first and shrinking towards one row
 * as the batch runs out (at most 32 rows, about remaining / (2 x workers)), so a worker slowed
 * by other load on its core holds up the end of the batch by at most one row's work. Which
 * worker gets a row depends on timing: a task that writes each row's result to that row's place,
 * from per-worker state that gives the same result for the same row, gives results independent
 * of the number of workers.
 *
 * Errors never crash or hang: an exception from setUp() makes the constructor throw (after the
 * workers that did start have run tearDown()); an exception from a task stops further claims for
 * that execute() call, the other workers finish their current range, and execute() throws. Both
 * are OpenMM::OpenMMException with a message starting "<owner>: ". The pool stays usable after a
 * failed execute(). execute() is not reentrant: callers serialise calls from several threads.
 */
class OPENMM_EXPORT_BG ContextWorkerPool {
public:
    /** Per-worker set-up or tear-down, called in worker thread `worker` (0 <= worker < numWorkers). */
    using WorkerHook = std::function<void(int worker)>;
    /** Process rows [begin, end) of the current batch in worker thread `worker`. */
    using RowTask = std::function<void(int worker, int64_t begin, int64_t end)>;

    /**
     * Start the workers and wait until every setUp() has returned.
     *
     * @param owner       the class name that error messages start with (e.g. "SystemTarget")
     * @param numWorkers  the number of worker threads, at least 1
     * @param setUp       called once in each worker thread before any task (may be empty)
     * @param tearDown    called once in each worker thread whose setUp() succeeded, when the pool
     *                    stops (may be empty); must not throw
     * @param pinWorkers  with at least numWorkers CPUs available to the calling thread, bind
     *                    worker k to the k-th of them before setUp() (Linux; ignored elsewhere)
     * @throws OpenMM::OpenMMException ("<owner>: ...") for numWorkers < 1, a thread that cannot be
     *         started, or a setUp() that throws (its message is included)
     */
    ContextWorkerPool(const std::string& owner, int numWorkers, const WorkerHook& setUp, const WorkerHook& tearDown,
                      bool pinWorkers);
    /** Stop the workers (each runs tearDown() in its own thread) and join them. */
    ~ContextWorkerPool();
    ContextWorkerPool(const ContextWorkerPool&) = delete;
    ContextWorkerPool& operator=(const ContextWorkerPool&) = delete;
    /** Get the number of worker threads. */
    int getNumWorkers() const {
        return numWorkers;
    }
    /** Get the CPU each worker is bound to (empty if the workers are not bound). */
    const std::vector<int>& getWorkerCpus() const {
        return cpus;
    }
    /**
     * Run task over rows [0, numRows) on the workers; returns when every row is done.
     *
     * @param numRows  the number of rows; 0 returns at once
     * @param task     called as task(worker, begin, end) for disjoint ranges covering all rows
     * @throws OpenMM::OpenMMException ("<owner>: a worker failed: ...") if a task threw; rows
     *         not yet claimed by then are skipped
     */
    void execute(int64_t numRows, const RowTask& task);

private:
    bool claimRows(int64_t& begin, int64_t& end);
    void workerMain(int index);
    void stop();

    const std::string owner;
    const int numWorkers;
    WorkerHook setUp, tearDown;
    std::vector<int> cpus;
    std::vector<std::thread> threads;
    std::mutex m;
    std::condition_variable startCv, doneCv;
    const RowTask* task = nullptr;
    int64_t numRows = 0;
    uint64_t generation = 0;
    std::atomic<int64_t> nextRow{0};
    int pending = 0, started = 0;
    bool stopping = false;
    std::string startupError, taskError;
};

/** The CPUs the calling thread may run on, ascending (empty where this cannot be determined). */
OPENMM_EXPORT_BG std::vector<int> allowedCpus();

/**
 * Restrict the calling thread to the given CPUs (best effort; a no-op where unsupported or for an
 * empty list). Threads it starts afterwards inherit the restriction.
 */
OPENMM_EXPORT_BG void bindCurrentThread(const std::vector<int>& cpus);

/**
 * The process-wide mutex under which inner Contexts are created and destroyed: both touch
 * process-wide OpenMM state (platform and kernel registries, the CPU platform's per-Context data)
 * that is not safe to modify from several threads at once.
 */
OPENMM_EXPORT_BG std::mutex& contextLifetimeMutex();

} // namespace BoltzmannPlugin

#endif
