#ifndef OPENMM_BOLTZMANN_GENERATOR_MODEL_STATE_H_
#define OPENMM_BOLTZMANN_GENERATOR_MODEL_STATE_H_

// The LibTorch side of a BoltzmannGeneratorModel, shared by the model's source files and the
// integrator's flow move. Kept out of BoltzmannGeneratorModel.h so that the public headers do not
// pull in LibTorch. @private

#include "SystemTarget.h"
#include "bg/AugmentedCouplingFlow.h"
#include "bg/GenerativeModel.h"
#include "bg/DistributedContext.h"
#include "bg/Optimizer.h"
#include "bg/Chirality.h"
#include "bg/TrainingConfig.h"
#include "bg/TrainingMethod.h"
#include "internal/BoltzmannGeneratorModel.h"
#include "internal/CentredTarget.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

namespace BoltzmannPlugin {

/** Model, random generator, target and training state of one Context's Boltzmann generator. @private */
class BoltzmannGeneratorModel::State {
public:
    /**
     * Rows per model pass without gradients (sampling, densities): the E-ACF's inference batch size,
     * and the chunks in which sample() and computeLogProb() run the E-CNF's ODE, so that large requests
     * need bounded memory (the exact divergence repeats every row N D times).
     */
    static constexpr int64_t inferenceChunk = 256;
    /** The Context's model: the E-ACF (bg::CouplingFlowModel) or the E-CNF (bg::CnfModel). */
    std::shared_ptr<bg::GenerativeModel> model;
    bg::TrainingConfig config;
    /** The training settings' fab.chiralCentres (indices of the modelled particles): FAB keeps their handedness, and so do flow moves. */
    std::vector<bg::ChiralCentre> chiralCentres;
    /** The Context's random stream (sampling, flow moves, maximum likelihood); seeded seed + 1. */
    torch::Generator generator = at::detail::createCPUGenerator(0);
    /** The seed the flow and generator were made from (the force's, or a random one for seed 0). */
    uint64_t seed = 0;
    /** The data-parallel run this Context's training takes part in; null: one process (or not joined yet). */
    std::shared_ptr<bg::DistributedContext> distributed;
    /** In a run: the stream of methods that draw per rank (FAB), seeded seed + 1 + rank on first use. */
    torch::Generator rankGenerator;
    /** The System the target evaluates: the Context's System less the BG force (and its group's forces if not 0). */
    std::unique_ptr<OpenMM::System> targetSystem;
    /** Inner Contexts over targetSystem; their box, parameters and held positions follow the Context. */
    std::unique_ptr<SystemTarget> target;
    /** target with every configuration placed at the modelled particles' current centre (sampling, FAB). */
    std::unique_ptr<CentredTarget> centredTarget;
    std::unique_ptr<bg::TrainingMethod> fab;
    /** FAB's optimiser; mlOptimizer: trainOnSamples()'s (maximum likelihood, or flow matching for the E-CNF). */
    std::unique_ptr<bg::SkipClipAdam> fabOptimizer, mlOptimizer;
    int64_t fabIterations = 0, mlUpdates = 0;
    /**
     * Optimiser state of maximum likelihood read from a checkpoint before that optimiser existed
     * (an archive's bytes), applied when trainOnSamples() creates it.
     */
    std::string pendingMlOptimizer;

    /**
     * The generator `method` draws from: rankGenerator in a data-parallel run when the method wants
     * a stream per rank (bg::rankGenerator(), as the TrainingDriver seeds it), else generator.
     */
    torch::Generator& generatorFor(const bg::TrainingMethod& method);

    torch::ScalarType dtype() const {
        return model->dtype();
    }
    /** Whether the model is the E-CNF (no augmented variables; trained by flow matching, not FAB). */
    bool isCnf() const {
        return model->kind() == "ecnf";
    }
    /**
     * The E-ACF of the model, for the work only it does (`user` names that work in the message).
     * @throws OpenMM::OpenMMException naming BoltzmannGeneratorForce for the E-CNF
     */
    bg::AugmentedCouplingFlow& couplingFlow(const std::string& user);
};

/** Positions (nm) of n configurations of N particles as a float64 tensor [n, N, D] (D = 2 keeps x, y). @private */
torch::Tensor positionsToTensor(const std::vector<OpenMM::Vec3>& positions, int numParticles, int dimension);
/** A tensor's values as float64 on the host, flattened. @private */
std::vector<double> tensorToVector(const torch::Tensor& t);

}   // namespace BoltzmannPlugin

#endif
