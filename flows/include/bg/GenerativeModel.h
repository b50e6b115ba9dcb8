#ifndef BG_GENERATIVE_MODEL_H_
#define BG_GENERATIVE_MODEL_H_

// One interface for both model families of flows/: the E-ACF (bg::AugmentedCouplingFlow,
// model-spec 2-8) and the E-CNF (bg::EquivariantCnf, ecnf-spec 1, 4). Training methods, the
// TrainingDriver, evaluateFlow() and the command line work on a GenerativeModel; the adapters that
// implement it for the two classes are in bg/ModelAdapters.h.

#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace bg {

/** Log densities at configurations x, in the model's dtype and device. */
struct ModelDensity {
    torch::Tensor logQ;          ///< [n] E-ACF: joint log q(x, a) at the drawn a; E-CNF: log q(x)
    torch::Tensor logAugmented;  ///< [n] E-ACF: log pi(a|x) of that a; undefined for the E-CNF
    /**
     * The log density of the proposal that drew x (model-spec 13): log q(x, a) - log pi(a|x) for the
     * E-ACF, log q(x) for the E-CNF, so the importance weight towards exp(-u) is
     * log w = -u(x) - logProposal(). [n], in the dtype and device of logQ.
     */
    torch::Tensor logProposal() const {
        return logAugmented.defined() ? logQ - logAugmented : logQ;
    }
};

/** Samples of a GenerativeModel with the log densities that importance weights need. */
struct ModelSample : ModelDensity {
    torch::Tensor x;            ///< [n, N, D] (nm), zero centre of mass
    torch::Tensor a;            ///< [n, K, N, D] augmented variables (E-ACF); undefined for the E-CNF
    int64_t evaluations = 0;    ///< velocity-field evaluations of the ODE solve (E-CNF); 0 for the E-ACF
};

/**
 * A generative model over configurations x [n, N, D] (nm) with a zero-CoM base: what training,
 * checkpoints, evaluation and sampling need from either family. Log densities are in nats per
 * nm^((N-1)D), with the normaliser of ZeroCoMGaussian, so the two families' figures compare.
 *
 * Sampling and densities run under the caller's grad mode (the E-CNF switches gradients on inside
 * its ODE solver for the divergence; do not call it under torch::InferenceMode). Random numbers come
 * from the generator passed in (a CPU generator).
 */
class GenerativeModel {
public:
    virtual ~GenerativeModel() = default;
    /** The family: "eacf" (the augmented coupling flow) or "ecnf" (the continuous normalizing flow). */
    virtual std::string kind() const = 0;
    /**
     * Whether samples carry augmented variables a ~ pi(a|x) (the E-ACF): then marginalLogProb() is an
     * importance-weighted estimate and proposalLogProb() draws a; otherwise both are log q(x).
     */
    bool augmented() const {
        return kind() == "eacf";
    }
    /** The configuration as JSON text (FlowConfig::toJson() or CnfConfig::toJson(), the latter with "model": "ecnf"). */
    virtual std::string configJson() const = 0;
    /** N and D of the configurations. */
    virtual int numParticles() const = 0;
    virtual int dimension() const = 0;
    /** The dtype of the parameters and of the tensors the model returns (float32 or float64). */
    virtual torch::ScalarType dtype() const = 0;
    /** Where the parameters live. */
    virtual torch::Device device() const = 0;
    /** The module (parameters for the optimiser, train/eval mode, moving with to(), weight archives). */
    virtual torch::nn::Module& module() = 0;
    /** The trainable tensors, in the module's order (what the optimiser updates). */
    std::vector<torch::Tensor> parameters() {
        return module().parameters();
    }
    /** Number of trainable scalars. */
    int64_t numParameters();
    /** Training (true) or evaluation mode of the module. */
    void train(bool on = true) {
        module().train(on);
    }
    /** Move the parameters to a device. */
    void to(const torch::Device& device) {
        module().to(device);
    }
    /**
     * Draw n samples with the log densities of their proposal (ModelSample::logProposal()).
     * @throws std::runtime_error from the E-CNF's ODE solver (step limit, non-finite field)
     */
    virtual ModelSample sample(int64_t n, torch::Generator& generator) = 0;
    /**
     * The proposal log density at given configurations x [B, N, D] (nm, centred by the model): the
     * E-ACF draws one a ~ pi(a|x) per row and returns log q(x, a) and log pi(a|x); the E-CNF
     * returns log q(x) (by its ODE). For forward importance weights of reference samples.
     */
    virtual ModelDensity proposalLogProb(const torch::Tensor& x, torch::Generator& generator) = 0;
    /**
     * The marginal log q(x) [B] for test NLLs: the E-ACF's importance-weighted estimate over
     * numDraws draws a_m ~ pi(a|x) (AugmentedCouplingFlowImpl::marginalLogProb, biased low), the
     * E-CNF's exact value by its ODE (numDraws unused). Evaluated without parameter gradients.
     */
    virtual torch::Tensor marginalLogProb(const torch::Tensor& x, int numDraws, torch::Generator& generator) = 0;
    /** Configuration and weights as one byte string, in the family's own format (saveFlow() / saveCnf()). */
    virtual std::string save() = 0;
    /** Write save() to a file (as saveFlowToFile() / saveCnfToFile() do); throws std::invalid_argument if it cannot be written. */
    void saveToFile(const std::string& path);
};

/**
 * The log density of the extended proposal behind multi-draw importance weights of the E-ACF's
 * samples: with (x, a_1) ~ q(x, a) from GenerativeModel::sample() and M - 1 further draws
 * a_m ~ pi(a|x) (m = 2..M), log qhat(x) = logsumexp_m [log q(x, a_m) - log pi(a_m|x)] - log M.
 * The weight w = exp(-u(x)) / qhat(x) is an exact importance weight on the extended space of
 * (x, a_1..a_M) (target p(x) prod_m pi(a_m|x), proposal the flow's pair placed at a uniformly
 * chosen index among M), so the self-normalised estimates stay consistent for every M; M = 1 is the
 * joint weight exp(-u(x)) pi(a|x) / q(x, a) (model-spec 13), and as M grows the weights approach
 * the marginal exp(-u(x)) / q(x) (model-spec 8: the importance-weighted marginal over a).
 * The model evaluates M - 1 further densities of n rows each, without parameter gradients.
 *
 * @param sample  what model.sample() returned: x [n, N, D] (nm), logQ and logAugmented [n]
 * @param draws   M >= 1; for a model without augmented variables (the E-CNF) every M gives log q(x)
 * @return [n] float64 on the model's device, nats per nm^((N-1)D)
 * @throws std::invalid_argument("multiDrawLogProposal: ...") for M < 1
 */
torch::Tensor multiDrawLogProposal(GenerativeModel& model, const ModelSample& sample, int draws, torch::Generator& generator);

/**
 * The model saved in bytes, of either family (the format's magic says which): saveFlow() bytes give
 * an E-ACF, saveCnf() bytes an E-CNF, whose save() returns the same bytes again.
 * @throws std::invalid_argument for data of neither format, or as loadFlow() / loadCnf() for corrupted data
 */
std::shared_ptr<GenerativeModel> loadModel(const std::string& bytes);
/** loadModel() of a file's content; throws std::invalid_argument also if the file cannot be read. */
std::shared_ptr<GenerativeModel> loadModelFromFile(const std::string& path);
/**
 * A new model from its configuration JSON (parameters from torch's default generator): an E-CNF
 * if the object has "model": "ecnf" (CnfConfig), else an E-ACF (FlowConfig; "model": "eacf" may be
 * given). @throws std::invalid_argument for malformed JSON, another model name or an invalid configuration
 */
std::shared_ptr<GenerativeModel> createModel(const std::string& configJson);
/** "eacf" or "ecnf" for a configuration JSON object (see createModel()); throws std::invalid_argument as it does. */
std::string modelKindOfConfig(const std::string& configJson);
/** The configuration JSON parsed and written again by its family's class (for comparisons); throws as createModel(). */
std::string normalisedModelConfig(const std::string& configJson);
/** A family's name in messages: "the E-ACF" for "eacf", "the E-CNF" for "ecnf". */
std::string modelKindName(const std::string& kind);

} // namespace bg

#endif
