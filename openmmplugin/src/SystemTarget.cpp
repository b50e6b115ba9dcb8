#include "SystemTarget.h"
#include "BoltzmannGeneratorForce.h"
#include "internal/ContextWorkerPool.h"
#include "SimTKOpenMMRealType.h"
#include "openmm/Context.h"
#include "openmm/LangevinMiddleIntegrator.h"
#include "openmm/OpenMMException.h"
#include "openmm/Platform.h"
#include "openmm/State.h"
#include "openmm/serialization/XmlSerializer.h"

#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <limits>
#include <set>
#include <thread>

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

namespace {

// One batch to evaluate: raw row-major buffers, indexed by row. Every output element of a row is
// written when the row is evaluated, so the caller need not initialise them.
struct Job {
    const double* x = nullptr;        // [B, N, D] if the input is float64, else null
    const float* xFloat = nullptr;    // [B, N, D] if the input is float32, else null
    int64_t batch = 0;
    bool computeForces = false;
    double* energy = nullptr;    // [B]
    double* forces = nullptr;    // [B, N, D]; null if not requested
    bool* valid = nullptr;       // [B]
};

} // namespace

/**
 * One inner Context with its integrator and a positions buffer holding all System particles;
 * evaluates rows of a Job. One per worker (the serial path has one, used in the calling thread).
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
                const bool finite = job.x != nullptr ? loadRow(job.x + b * rowSize, n) : loadRow(job.xFloat + b * rowSize, n);
                if (finite)
                    evaluateRow(job, b, n);
                else
                    markInvalid(job, b, rowSize);
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
    /** Put one row [N, D] (nm) into the modelled particles' positions; false if it is not finite. */
    template <class T>
    bool loadRow(const T* row, int n) {
        for (int64_t k = 0; k < (int64_t) n * dim; k++)
            if (!isfinite(row[k]))
                return false;
        for (int i = 0; i < n; i++) {
            const T* r = row + (int64_t) i * dim;
            buffer[particles[i]] = Vec3(r[0], r[1], dim == 3 ? r[2] : 0.0);
        }
        return true;
    }
    /** Evaluate the positions loadRow() set, writing row b of the job's outputs. */
    void evaluateRow(const Job& job, int64_t b, int n) {
        const int64_t rowSize = (int64_t) n * dim;
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
    // One Evaluator (inner Context) per worker; with several workers each is created, used and
    // destroyed in its own worker thread.
    evaluators.resize(this->numWorkers);
    auto createEvaluator = [&, contextProperties](int k) {
        try {
            evaluators[k].reset(new Evaluator(*innerSystem, *this, contextProperties));
        }
        catch (const exception& e) {
            throw OpenMMException("could not create an inner Context on platform '" + platformName + "': " + e.what());
        }
    };
    if (this->numWorkers == 1) {
        try {
            createEvaluator(0);
        }
        catch (const exception& e) {
            throw OpenMMException(string("SystemTarget: ") + e.what());
        }
    }
    else
        pool.reset(new ContextWorkerPool("SystemTarget", this->numWorkers, createEvaluator,
                                         [this](int k) { evaluators[k].reset(); }, pinWorkers));
}

SystemTarget::~SystemTarget() {
    pool.reset();
    evaluators.clear();
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
    // Float32 and float64 are read as they are; no tensor operation here runs in parallel, as
    // LibTorch's intra-op threads would spin afterwards on the cores the workers need.
    const bool keepFloat = x.scalar_type() == torch::kFloat32;
    torch::Tensor input = x.detach().to(torch::kCPU, keepFloat ? torch::kFloat32 : torch::kFloat64).contiguous();
    const int64_t batch = input.size(0);
    bg::EnergyEvaluation result;
    result.energy = torch::empty({batch}, torch::kFloat64);
    result.valid = torch::empty({batch}, torch::kBool);
    if (computeForces)
        result.forces = torch::empty({batch, n, dim}, torch::kFloat64);

    Job job;
    if (keepFloat)
        job.xFloat = input.data_ptr<float>();
    else
        job.x = input.data_ptr<double>();
    job.batch = batch;
    job.computeForces = computeForces;
    job.energy = result.energy.data_ptr<double>();
    job.forces = computeForces ? result.forces.data_ptr<double>() : nullptr;
    job.valid = result.valid.data_ptr<bool>();
    lock_guard<mutex> lock(evaluateMutex);
    if (batch > 0) {
        if (pool != nullptr)
            pool->execute(batch, [&](int k, int64_t begin, int64_t end) { evaluators[k]->evaluateRows(job, begin, end); });
        else
            evaluators[0]->evaluateRows(job, 0, batch);
    }
    if (regularisation.active())
        regularisation.apply(result);
    return result;
}
