#include "internal/ContextWorkerPool.h"
#include "openmm/OpenMMException.h"

#include <algorithm>
#include <exception>

#ifdef __linux__
#include <pthread.h>
#include <sched.h>
#endif

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

namespace {

const int64_t MaxBlockRows = 32;

string describe(const exception_ptr& error) {
    try {
        rethrow_exception(error);
    }
    catch (const exception& e) {
        return e.what();
    }
    catch (...) {
        return "unknown error";
    }
}

} // namespace

mutex& BoltzmannPlugin::contextLifetimeMutex() {
    static mutex m;
    return m;
}

vector<int> BoltzmannPlugin::allowedCpus() {
    vector<int> cpus;
#ifdef __linux__
    cpu_set_t set;
    CPU_ZERO(&set);
    if (pthread_getaffinity_np(pthread_self(), sizeof(set), &set) == 0)
        for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
            if (CPU_ISSET(cpu, &set))
                cpus.push_back(cpu);
#endif
    return cpus;
}

void BoltzmannPlugin::bindCurrentThread(const vector<int>& cpus) {
#ifdef __linux__
    if (cpus.empty())
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int cpu : cpus)
        if (cpu >= 0 && cpu < CPU_SETSIZE)
            CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
#else
    (void) cpus;
#endif
}

ContextWorkerPool::ContextWorkerPool(const string& owner, int numWorkers, const WorkerHook& setUp, const WorkerHook& tearDown,
                                     bool pinWorkers)
        : owner(owner), numWorkers(numWorkers), setUp(setUp), tearDown(tearDown) {
    if (numWorkers < 1)
        throw OpenMMException(owner + ": the worker pool needs at least one worker, got " + to_string(numWorkers));
    if (pinWorkers) {
        vector<int> allowed = allowedCpus();
        if ((int) allowed.size() >= numWorkers)
            cpus.assign(allowed.begin(), allowed.begin() + numWorkers);
    }
    threads.reserve(numWorkers);
    try {
        for (int k = 0; k < numWorkers; k++)
            threads.emplace_back(&ContextWorkerPool::workerMain, this, k);
    }
    catch (const exception& e) {
        lock_guard<mutex> lock(m);
        startupError = string("could not start a worker thread: ") + e.what();
    }
    unique_lock<mutex> lock(m);
    doneCv.wait(lock, [&] { return started == (int) threads.size(); });
    if (!startupError.empty()) {
        const string error = startupError;
        lock.unlock();
        stop();
        throw OpenMMException(owner + ": " + error);
    }
}

ContextWorkerPool::~ContextWorkerPool() {
    stop();
}

void ContextWorkerPool::stop() {
    {
        lock_guard<mutex> lock(m);
        stopping = true;
    }
    startCv.notify_all();
    for (thread& t : threads)
        if (t.joinable())
            t.join();
}

void ContextWorkerPool::execute(int64_t rows, const RowTask& rowTask) {
    if (rows <= 0)
        return;
    unique_lock<mutex> lock(m);
    task = &rowTask;
    numRows = rows;
    taskError.clear();
    nextRow = 0;
    pending = numWorkers;
    generation++;
    startCv.notify_all();
    doneCv.wait(lock, [&] { return pending == 0; });
    task = nullptr;
    if (!taskError.empty())
        throw OpenMMException(owner + ": a worker failed: " + taskError);
}

bool ContextWorkerPool::claimRows(int64_t& begin, int64_t& end) {
    begin = nextRow.load(memory_order_relaxed);
    while (begin < numRows) {
        const int64_t size = clamp<int64_t>((numRows - begin) / (2 * numWorkers), 1, MaxBlockRows);
        if (nextRow.compare_exchange_weak(begin, begin + size, memory_order_relaxed)) {
            end = begin + size;
            return true;
        }
    }
    return false;
}

void ContextWorkerPool::workerMain(int index) {
    if (index < (int) cpus.size())
        bindCurrentThread({cpus[index]});
    exception_ptr setUpError;
    try {
        if (setUp)
            setUp(index);
    }
    catch (...) {
        setUpError = current_exception();
    }
    uint64_t seen = 0;
    {
        lock_guard<mutex> lock(m);
        if (setUpError && startupError.empty())
            startupError = describe(setUpError);
        started++;
        seen = generation;
    }
    doneCv.notify_all();
    while (!setUpError) {
        const RowTask* current = nullptr;
        {
            unique_lock<mutex> lock(m);
            startCv.wait(lock, [&] { return stopping || generation != seen; });
            if (stopping)
                break;
            seen = generation;
            current = task;
        }
        exception_ptr error;
        int64_t begin, end;
        try {
            while (claimRows(begin, end))
                (*current)(index, begin, end);
        }
        catch (...) {
            error = current_exception();
            nextRow = numRows;   // no further claims in this batch
        }
        {
            lock_guard<mutex> lock(m);
            if (error && taskError.empty())
                taskError = describe(error);
            pending--;
        }
        doneCv.notify_all();
    }
    if (!setUpError && tearDown) {
        try {
            tearDown(index);
        }
        catch (...) {
            // Documented not to throw; an exception escaping a thread would end the process.
        }
    }
}
