#include "SystemTarget.h"
#include "BoltzmannGeneratorForce.h"
#include "SimTKOpenMMRealType.h"
#include "openmm/Context.h"
#include "openmm/LangevinMiddleIntegrator.h"
#include "openmm/OpenMMException.h"
#include "openmm/Platform.h"
#include "openmm/State.h"
#include "openmm/serialization/XmlSerializer.h"

#include <torch/types.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <limits>
#include <set>
#include <thread>

#ifdef __linux__
#include <pthread.h>
#include <sched.h>
#endif

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

namespace {


// Creating and destroying a Context touch process-wide OpenMM state (platform and kernel
// registries, the CPU platform's per-Context data), which is not safe to modify from several
// threads at once: do both one Context at a time, even when worker threads start or stop together.
mutex& contextLifetimeMutex() {
    static mutex m;
    return m;
}

// The CPUs the calling thread may run on (empty where this cannot be determined).
vector<int> allowedCpus() {
    vector<int> cpus;
#ifdef __linux__
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
            if (CPU_ISSET(cpu, &set))
                cpus.push_back(cpu);
#endif
    return cpus;
}

// Restrict the calling thread to one CPU (best effort; a no-op where unsupported).
void bindCurrentThreadToCpu(int cpu) {
#ifdef __linux__
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
#else
    (void) cpu;
#endif
}

// One batch (or part of one) to evaluate: raw row-major buffers, indexed by row.
struct Job {
    const double* x = nullptr;   // [B, N, D]
    int64_t batch = 0;
    bool computeForces = false;
    double* energy = nullptr;    // [B]
    double* forces = nullptr;    // [B, N, D], zero-filled by the caller; null if not requested
    bool* valid = nullptr;       // [B], false-filled by the caller
};

} // namespace

/**
 * One inner Context with its integrator and a positions buffer holding all System particles;
 * evaluates rows of a Job. Used by the serial path and owned by each pool worker.
 */
class SystemTarget::Evaluator {
public:
    Evaluator(const System& system, const SystemTarget& owner, const map<string, string>& properties)
            : owner(owner), particles(owner.particles), buffer(owner.positions), kT(owner.kT), dim(owner.dim),
              hasVirtualSites(false) {
        for (int i = 0; i < system.getNumParticles(); i++)
            hasVirtualSites |= system.isVirtualSite(i);
        Platform& platform = Platform::getPlatformByName(owner.platformName);
        // LangevinMiddleIntegrator's kinetic energy does not need forces, so getState(Energy)
        // computes energies only. It is never stepped.
        integrator.reset(new LangevinMiddleIntegrator(owner.temperature, 1.0, 0.001));
        lock_guard<mutex> lock(contextLifetimeMutex());
        context.reset(new Context(system, *integrator, platform, properties));
    }
    ~Evaluator() {
        lock_guard<mutex> lock(contextLifetimeMutex());
        context.reset();
    }
    /** Evaluate rows [begin, end) of a job; never throws. */
    void evaluateRows(const Job& job, int64_t begin, int64_t end) {
        if (heldVersion != owner.heldVersion) {
            buffer = owner.positions;
            try {
                applyContextState();
                stateValid = true;
            }
            catch (...) {
                stateValid = false;   // e.g. a box OpenMM refuses: every row is invalid until it changes
            }
            heldVersion = owner.heldVersion;
        }
        const int n = particles.size();
        const int64_t rowSize = (int64_t) n * dim;
        for (int64_t b = begin; b < end; b++) {
            try {
                if (!stateValid)
                    throw OpenMMException("SystemTarget: the inner Context refused the box or parameters");
                evaluateRow(job, b, job.x + b * rowSize, n);
            }
            catch (...) {
                markInvalid(job, b, rowSize);
            }
        }
    }

private:
    /** Give the inner Context the owner's box vectors and the values of the parameters it has. */
    void applyContextState() {
        if (owner.hasBox)
            context->setPeriodicBoxVectors(owner.box[0], owner.box[1], owner.box[2]);
        const map<string, double> own = context->getParameters();
        for (const auto& parameter : owner.parameters)
            if (own.count(parameter.first) != 0)
                context->setParameter(parameter.first, parameter.second);
    }
    static void markInvalid(const Job& job, int64_t b, int64_t rowSize) {
        job.energy[b] = numeric_limits<double>::infinity();
        job.valid[b] = false;
        if (job.forces != nullptr)
            fill(job.forces + b * rowSize, job.forces + (b + 1) * rowSize, 0.0);
    }
    void evaluateRow(const Job& job, int64_t b, const double* row, int n) {
        const int64_t rowSize = (int64_t) n * dim;
        for (int64_t k = 0; k < rowSize; k++)
            if (!isfinite(row[k])) {
                markInvalid(job, b, rowSize);
                return;
            }
        for (int i = 0; i < n; i++) {
            const double* r = row + (int64_t) i * dim;
            buffer[particles[i]] = Vec3(r[0], r[1], dim == 3 ? r[2] : 0.0);
        }
        context->setPositions(buffer);
        if (hasVirtualSites)
            context->computeVirtualSites();
        State state = context->getState(job.computeForces ? State::Energy | State::Forces : State::Energy);
        const double u = state.getPotentialEnergy() / kT;
        if (!isfinite(u)) {
            markInvalid(job, b, rowSize);
            return;
        }
        if (job.computeForces) {
            const vector<Vec3>& f = state.getForces();
            double* out = job.forces + b * rowSize;
            for (int i = 0; i < n; i++) {
                const Vec3& fi = f[particles[i]];
                for (int d = 0; d < dim; d++) {
                    const double value = fi[d] / kT;
                    if (!isfinite(value)) {
                        markInvalid(job, b, rowSize);
                        return;
                    }
                    out[(int64_t) i * dim + d] = value;
                }
            }
        }
        job.energy[b] = u;
        job.valid[b] = true;
    }

    const SystemTarget& owner;
    int64_t heldVersion = 0;
    bool stateValid = true;
    vector<int> particles;
    vector<Vec3> buffer;
    double kT;
    int dim;
    bool hasVirtualSites;
    unique_ptr<Integrator> integrator;
    unique_ptr<Context> context;
};

/**
 * Worker threads, each creating and owning one Evaluator (Context) inside its own thread, and
 * optionally bound to one CPU. For a job, workers claim contiguous blocks of rows from a shared
 * counter until none are left; each row's results go to that row's place in the output, so the
 * order is the input order. execute() returns when all rows are done.
 */
class SystemTarget::WorkerPool {
public:
    WorkerPool(const System& system, const SystemTarget& owner, const map<string, string>& properties, int numWorkers,
               bool pinWorkers)
            : numWorkers(numWorkers) {
        if (pinWorkers) {
            vector<int> allowed = allowedCpus();
            if ((int) allowed.size() >= numWorkers)
                cpus.assign(allowed.begin(), allowed.begin() + numWorkers);
        }
        threads.reserve(numWorkers);
        try {
            for (int k = 0; k < numWorkers; k++)
                threads.emplace_back(&WorkerPool::run, this, k, cref(system), cref(owner), cref(properties));
        }
        catch (const exception& e) {
            lock_guard<mutex> lock(m);
            startupError = string("could not start a worker thread: ") + e.what();
        }
        unique_lock<mutex> lock(m);
        doneCv.wait(lock, [&] { return started == (int) threads.size(); });
        if (!startupError.empty()) {
            lock.unlock();
            stop();
            throw OpenMMException("SystemTarget: could not create an inner Context on platform '" + owner.platformName +
                                  "': " + startupError);
        }
    }
    ~WorkerPool() {
        stop();
    }
    void execute(const Job& j) {
        unique_lock<mutex> lock(m);
        job = j;
        // About 8 blocks per worker, at most 32 rows each.
        blockSize = max<int64_t>(1, min<int64_t>(32, j.batch / (8 * numWorkers)));
        nextRow = 0;
        pending = numWorkers;
        generation++;
        startCv.notify_all();
        doneCv.wait(lock, [&] { return pending == 0; });
    }

private:
    void stop() {
        {
            lock_guard<mutex> lock(m);
            stopping = true;
        }
        startCv.notify_all();
        for (thread& t : threads)
            if (t.joinable())
                t.join();
    }
    void run(int index, const System& system, const SystemTarget& owner, const map<string, string>& properties) {
        // Bind the worker before its Context exists: threads the platform starts for the Context
        // (the CPU platform's thread pool) inherit the binding, so their hand-offs stay on one core.
        if (index < (int) cpus.size())
            bindCurrentThreadToCpu(cpus[index]);
        unique_ptr<Evaluator> evaluator;
        string error;
        try {
            evaluator.reset(new Evaluator(system, owner, properties));
        }
        catch (const exception& e) {
            error = e.what();
        }
        catch (...) {
            error = "unknown error";
        }
        uint64_t seen = 0;
        {
            lock_guard<mutex> lock(m);
            if (!error.empty() && startupError.empty())
                startupError = error;
            started++;
            seen = generation;
        }
        doneCv.notify_all();
        while (true) {
            Job local;
            int64_t block = 1;
            {
                unique_lock<mutex> lock(m);
                startCv.wait(lock, [&] { return stopping || generation != seen; });
                if (stopping)
                    break;
                seen = generation;
                local = job;
                block = blockSize;
            }
            // Claim contiguous blocks of rows until none are left, so a worker slowed down by
            // something else on its core does not hold up the batch.
            while (evaluator != nullptr) {
                const int64_t begin = nextRow.fetch_add(block);
                if (begin >= local.batch)
                    break;
                evaluator->evaluateRows(local, begin, min(begin + block, local.batch));
            }
            {
                lock_guard<mutex> lock(m);
                pending--;
            }
            doneCv.notify_all();
        }
        // Destroy the Context in the thread that created it.
        evaluator.reset();
    }

    const int numWorkers;
    vector<int> cpus;   // CPU of each worker; empty if workers are not pinned
    vector<thread> threads;
    mutex m;
    condition_variable startCv, doneCv;
    Job job;
    uint64_t generation = 0;
    int64_t blockSize = 1;
    atomic<int64_t> nextRow{0};
    int pending = 0, started = 0;
    bool stopping = false;
    string startupError;
};

SystemTarget::SystemTarget(const System& system, double temperature, const vector<int>& particles,
                           const vector<Vec3>& positions, const string& platformName, int numWorkers, int dimension,
                           const map<string, string>& properties, bool pinWorkers)
        : temperature(temperature), kT(BOLTZ * temperature), particles(particles), positions(positions),
          platformName(platformName), numWorkers(numWorkers), dim(dimension) {
    if (!(temperature > 0.0) || !isfinite(temperature))
        throw OpenMMException("SystemTarget: the temperature must be positive and finite (Kelvin), got " + to_string(temperature));
    if (dimension != 2 && dimension != 3)
        throw OpenMMException("SystemTarget: the dimension must be 2 or 3, got " + to_string(dimension));
    if (numWorkers < 0)
        throw OpenMMException("SystemTarget: the number of workers must be non-negative (0 = number of cores), got " +
                              to_string(numWorkers));
    const int numSystemParticles = system.getNumParticles();
    if (particles.empty())
        throw OpenMMException("SystemTarget: the list of modelled particles is empty");
    set<int> seen;
    for (int p : particles) {
        if (p < 0 || p >= numSystemParticles)
            throw OpenMMException("SystemTarget: particle index " + to_string(p) + " is out of range for a System of " +
                                  to_string(numSystemParticles) + " particles");
        if (!seen.insert(p).second)
            throw OpenMMException("SystemTarget: particle " + to_string(p) + " is listed more than once");
        if (system.isVirtualSite(p))
            throw OpenMMException("SystemTarget: particle " + to_string(p) + " is a virtual site and cannot be modelled");
    }
    if ((int) positions.size() != numSystemParticles)
        throw OpenMMException("SystemTarget: got " + to_string(positions.size()) + " positions for a System of " +
                              to_string(numSystemParticles) + " particles");
    for (int i = 0; i < numSystemParticles; i++)
        for (int d = 0; d < 3; d++)
            if (!isfinite(positions[i][d]))
                throw OpenMMException("SystemTarget: the position of particle " + to_string(i) + " is not finite");
    try {
        Platform::getPlatformByName(platformName);
    }
    catch (const OpenMMException&) {
        string known;
        for (int i = 0; i < Platform::getNumPlatforms(); i++)
            known += (i > 0 ? ", " : "") + Platform::getPlatform(i).getName();
        throw OpenMMException("SystemTarget: unknown platform '" + platformName + "' (registered: " + known + ")");
    }

    // A copy of the System without BoltzmannGeneratorForce, so the inner Contexts never run a flow.
    try {
        innerSystem.reset(XmlSerializer::clone<System>(system));
    }
    catch (const exception& e) {
        throw OpenMMException(string("SystemTarget: could not copy the System: ") + e.what());
    }
    for (int i = innerSystem->getNumForces() - 1; i >= 0; i--)
        if (dynamic_cast<const BoltzmannGeneratorForce*>(&innerSystem->getForce(i)) != nullptr)
            innerSystem->removeForce(i);

    map<string, string> contextProperties = properties;
    if (platformName == "CPU" && contextProperties.find("Threads") == contextProperties.end())
        contextProperties["Threads"] = "1";
    if (this->numWorkers == 0)
        this->numWorkers = max(1u, thread::hardware_concurrency());
    if (this->numWorkers == 1) {
        try {
            serialEvaluator.reset(new Evaluator(*innerSystem, *this, contextProperties));
        }
        catch (const exception& e) {
            throw OpenMMException("SystemTarget: could not create an inner Context on platform '" + platformName + "': " + e.what());
        }
    }
    else
        pool.reset(new WorkerPool(*innerSystem, *this, contextProperties, this->numWorkers, pinWorkers));
}

SystemTarget::~SystemTarget() {
    pool.reset();
    serialEvaluator.reset();
}

int SystemTarget::numParticles() const {
    return particles.size();
}

int SystemTarget::dimension() const {
    return dim;
}

const System& SystemTarget::getSystem() const {
    return *innerSystem;
}

void SystemTarget::setHeldPositions(const vector<Vec3>& positions) {
    if (positions.size() != this->positions.size())
        throw OpenMMException("SystemTarget: got " + to_string(positions.size()) + " positions for a System of " +
                              to_string(this->positions.size()) + " particles");
    for (size_t i = 0; i < positions.size(); i++)
        for (int d = 0; d < 3; d++)
            if (!isfinite(positions[i][d]))
                throw OpenMMException("SystemTarget: the position of particle " + to_string(i) + " is not finite");
    lock_guard<mutex> lock(evaluateMutex);
    this->positions = positions;
    heldVersion++;
}

void SystemTarget::setPeriodicBoxVectors(const Vec3& a, const Vec3& b, const Vec3& c) {
    for (const Vec3& v : {a, b, c})
        for (int d = 0; d < 3; d++)
            if (!isfinite(v[d]))
                throw OpenMMException("SystemTarget: the periodic box vectors must be finite");
    lock_guard<mutex> lock(evaluateMutex);
    box[0] = a;
    box[1] = b;
    box[2] = c;
    hasBox = true;
    heldVersion++;
}

void SystemTarget::setParameters(const map<string, double>& values) {
    lock_guard<mutex> lock(evaluateMutex);
    parameters = values;
    heldVersion++;
}

void SystemTarget::setEnergyRegularisation(const bg::EnergyRegularisation& regularisation) {
    lock_guard<mutex> lock(evaluateMutex);
    this->regularisation = regularisation;
}

bg::EnergyEvaluation SystemTarget::evaluate(const torch::Tensor& x, bool computeForces) {
    const int n = particles.size();
    if (!x.defined() || x.dim() != 3 || x.size(1) != n || x.size(2) != dim)
        throw OpenMMException("SystemTarget: x must have shape [B, " + to_string(n) + ", " + to_string(dim) + "], got " +
                              (x.defined() ? c10::str(x.sizes()) : string("an undefined tensor")));
    if (!at::isFloatingType(x.scalar_type()))
        throw OpenMMException("SystemTarget: x must be a floating-point tensor");
    torch::Tensor input = x.detach().to(torch::kCPU, torch::kFloat64).contiguous();
    const int64_t batch = input.size(0);
    bg::EnergyEvaluation result;
    result.energy = torch::empty({batch}, torch::kFloat64);
    result.valid = torch::zeros({batch}, torch::kBool);
    if (computeForces)
        result.forces = torch::zeros({batch, n, dim}, torch::kFloat64);

    Job job;
    job.x = input.data_ptr<double>();
    job.batch = batch;
    job.computeForces = computeForces;
    job.energy = result.energy.data_ptr<double>();
    job.forces = computeForces ? result.forces.data_ptr<double>() : nullptr;
    job.valid = result.valid.data_ptr<bool>();
    lock_guard<mutex> lock(evaluateMutex);
    if (batch > 0) {
        if (pool != nullptr)
            pool->execute(job);
        else
            serialEvaluator->evaluateRows(job, 0, batch);
    }
    if (regularisation.active())
        regularisation.apply(result);
    return result;
}
