#ifndef OPENMMBG_TESTS_PLAIN_CONTEXT_POOL_H_
#define OPENMMBG_TESTS_PLAIN_CONTEXT_POOL_H_

// Test and benchmark helper: a ContextWorkerPool whose workers each own a plain CPU-platform
// Context (Threads=1) of one System, created and destroyed in the worker's thread.

#include "internal/ContextWorkerPool.h"
#include "openmm/Context.h"
#include "openmm/Platform.h"
#include "openmm/State.h"
#include "openmm/System.h"
#include "openmm/VerletIntegrator.h"

#include <memory>
#include <mutex>
#include <vector>

class PlainContextPool {
public:
    /** The System must outlive the pool; pin binds worker k to the k-th allowed CPU. */
    PlainContextPool(const OpenMM::System& system, int workers, bool pin)
            : integrators(workers), contexts(workers),
              pool("PlainContextPool", workers, [&](int k) { create(system, k); }, [&](int k) { destroy(k); }, pin) {
    }
    /**
     * Potential energies (kJ/mol) of the configurations (positions of all particles, nm), one
     * Context evaluation each, with forces computed too when forces is true.
     */
    std::vector<double> energies(const std::vector<std::vector<OpenMM::Vec3>>& configurations, bool forces) {
        std::vector<double> result(configurations.size());
        const int types = forces ? OpenMM::State::Energy | OpenMM::State::Forces : OpenMM::State::Energy;
        pool.execute(configurations.size(), [&](int k, int64_t begin, int64_t end) {
            for (int64_t b = begin; b < end; b++) {
                contexts[k]->setPositions(configurations[b]);
                result[b] = contexts[k]->getState(types).getPotentialEnergy();
            }
        });
        return result;
    }

private:
    void create(const OpenMM::System& system, int k) {
        integrators[k].reset(new OpenMM::VerletIntegrator(0.001));
        std::lock_guard<std::mutex> lock(BoltzmannPlugin::contextLifetimeMutex());
        contexts[k].reset(new OpenMM::Context(system, *integrators[k], OpenMM::Platform::getPlatformByName("CPU"), {{"Threads", "1"}}));
    }
    void destroy(int k) {
        std::lock_guard<std::mutex> lock(BoltzmannPlugin::contextLifetimeMutex());
        contexts[k].reset();
    }
    std::vector<std::unique_ptr<OpenMM::VerletIntegrator>> integrators;
    std::vector<std::unique_ptr<OpenMM::Context>> contexts;
    BoltzmannPlugin::ContextWorkerPool pool;   // last: its workers use the vectors above
};

#endif
