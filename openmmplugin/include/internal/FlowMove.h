#ifndef OPENMM_BOLTZMANN_GENERATOR_FLOW_MOVE_H_
#define OPENMM_BOLTZMANN_GENERATOR_FLOW_MOVE_H_

#include "internal/windowsExportBoltzmannGenerator.h"

#include <cstdint>
#include <iosfwd>
#include <memory>

namespace OpenMM {
class ContextImpl;
}

namespace BoltzmannPlugin {

class BoltzmannGeneratorModel;

/** The outcome of one independence Metropolis-Hastings move with a flow proposal. @private */
struct FlowMoveResult {
    bool accepted = false;
    double proposalLogWeight = 0.0;   ///< log w of the proposal (joint, dimensionless; -inf if its energy failed)
};

/**
 * The flow moves of a BoltzmannGeneratorIntegrator: independence Metropolis-Hastings moves over
 * (x, a) (the E-ACF) or x (the E-CNF) whose proposals are model samples, drawn proposalBatch at
 * a time from the model and its generator and kept until used or until the parameters change. Platform independent (host
 * data through ContextImpl). @private
 */
class OPENMM_EXPORT_BG FlowMoveSampler {
public:
    FlowMoveSampler();
    ~FlowMoveSampler();
    /**
     * One move: refresh a ~ pi(a|x) (E-ACF) for the current modelled positions x, take the next
     * proposal (x', a'), shift x' to the current centre (unweighted mean) of the modelled
     * particles, and accept with min(1, w'/w), w = exp(-U/kT) pi(a|x) / q(x, a) (E-ACF) or
     * exp(-U/kT) / q(x) (E-CNF: no a; log q(x) of both states by the ODE from t = 1 to 0). U is
     * the Context's own potential energy for the force groups `groups` (its box and parameters), so
     * the move keeps the distribution the dynamics sample. On return the Context holds the
     * proposal if accepted, else its original positions; its forces are stale. A proposal that
     * differs from the current state in the sign of one of the training settings' chiral centres
     * (fab.chiralCentres) is rejected without an energy evaluation (weight 0 under the target
     * restricted to the current handedness), so flow moves never invert a listed centre.
     *
     * @param model          the Context's Boltzmann generator (flow, generator, kT)
     * With weightDraws M > 1 (E-ACF) both weights are over M augmented draws instead
     * (BoltzmannGeneratorIntegrator::getWeightDraws()): the current state's M fresh from pi(a|x)
     * (the flow's marginalLogProb), the proposal's its own a and M - 1 new ones (bg::multiDrawLogProposal).
     *
     * @param proposalBatch  flow samples drawn at once for later moves (positive)
     * @param weightDraws    M, positive
     * @param groups         force groups of the energy (the integrator's integration groups)
     */
    FlowMoveResult move(BoltzmannGeneratorModel& model, OpenMM::ContextImpl& context, int proposalBatch, int weightDraws, int groups);
    /** Write the proposal cache (valid only for the model's current parameters). */
    void save(BoltzmannGeneratorModel& model, std::ostream& stream) const;
    /** Restore what save() wrote; call after the model's own state has been restored. */
    void load(BoltzmannGeneratorModel& model, std::istream& stream);

private:
    /** Refill the cache with `count` proposals of the model and their densities over `draws` augmented draws (see Cache in FlowMove.cpp). */
    void drawProposals(BoltzmannGeneratorModel& model, int count, int draws);
    struct Cache;
    std::unique_ptr<Cache> cache;
};

}   // namespace BoltzmannPlugin

#endif
