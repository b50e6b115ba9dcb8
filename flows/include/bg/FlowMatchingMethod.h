#ifndef BG_FLOW_MATCHING_METHOD_H_
#define BG_FLOW_MATCHING_METHOD_H_

#include "bg/EquivariantAlignment.h"
#include "bg/EquivariantCnf.h"
#include "bg/Optimizer.h"
#include "bg/ShuffledBatches.h"
#include "bg/TrainingMethod.h"

#include <torch/serialize/archive.h>
#include <torch/types.h>

#include <string>

namespace bg {

/** How noise and data are paired in flow matching (ecnf-spec 3). */
enum class Pairing {
    Independent,     ///< x0 drawn independently for each x1 (the ecnf baseline, ecnf-spec 3.1)
    MinibatchOt,     ///< Hungarian on flattened squared distances (ecnf-spec 3.2)
    EquivariantOt    ///< per-pair permutation + Kabsch, then Hungarian on the aligned costs (ecnf-spec 3.3)
};

/**
 * Settings of flow matching besides the TrainingConfig (JSON text; unknown keys rejected):
 * {"pairing": "independent" | "ot" | "equivariant-ot", "alignmentIterations": 1,
 *  "reflections": false, "permute": true, "randomRotations": true}.
 */
struct FlowMatchingSettings {
    Pairing pairing = Pairing::EquivariantOt;
    AlignmentOptions alignment;      ///< permute, rotate, reflections, iterations (particle types from the model)
    bool randomRotations = true;     ///< rotate each data batch uniformly before rotational alignment (ecnf-spec 3.6)
    /** Parse; throws std::invalid_argument ("FlowMatchingSettings: ...") for malformed JSON or bad values. */
    static FlowMatchingSettings fromJson(const std::string& json);
    std::string toJson() const;
};

/**
 * Flow-matching training of an EquivariantCnf (ecnf-spec 2.1, 3): each step takes the next
 * minibatch x1 of the (centred) training data in a per-epoch random order, draws x0 from the prior
 * (std s), pairs them (FlowMatchingSettings::pairing), draws t ~ U[0, 1) per sample and minimises
 *
 *     L = mean over batch, particles and coordinates of (v(x_t, t) - u_t)^2,
 *     x_t = (1 - (1 - sigma_min) t) x0 + t x1,   u_t = x1 - (1 - sigma_min) x0,
 *
 * through the SkipClipAdam guard. No gradient flows through the pairing. The TrainingMethod "fm" of
 * the E-CNF (modelKind() "ecnf"): step() on a GenerativeModel of another kind throws
 * std::invalid_argument. One process only (setDistributed() refuses).
 */
class FlowMatchingMethod : public TrainingMethod {
public:
    /**
     * @param data       training configurations [n, N, D] (nm), n >= batchSize; centred here
     * @param batchSize  B, samples per update
     * @throws std::invalid_argument for bad shapes or n < batchSize
     */
    FlowMatchingMethod(const torch::Tensor& data, int64_t batchSize, FlowMatchingSettings settings);
    std::string name() const override {
        return "fm";
    }
    std::string modelKind() const override {
        return "ecnf";
    }
    int64_t callsPerEpoch() const override {
        return order.batchesPerEpoch();
    }
    /** One minibatch update of the model's E-CNF; throws std::invalid_argument for another model kind. */
    StepStats step(GenerativeModel& model, SkipClipAdam& optimizer, torch::Generator& generator) override;
    /** One minibatch update; returns the loss, gradient norm and learning rate. */
    StepStats step(EquivariantCnf& cnf, SkipClipAdam& optimizer, torch::Generator& generator);
    /**
     * Noise paired with data x1 [B, N, D] under the settings' pairing: x0 [B, N, D] with zero CoM,
     * row j paired with x1[j]. Draws the noise on generator.
     */
    torch::Tensor pairedNoise(EquivariantCnf& cnf, const torch::Tensor& x1, torch::Generator& generator) const;
    /** The flow-matching loss (scalar, differentiable) for given x0, x1 [B, N, D] and t [B] (ecnf-spec 2.1). */
    static torch::Tensor loss(EquivariantCnf& cnf, const torch::Tensor& x0, const torch::Tensor& x1, const torch::Tensor& t);
    void save(torch::serialize::OutputArchive& archive) const override;
    /** @throws std::runtime_error if the archive was written for another number of samples */
    void load(torch::serialize::InputArchive& archive) override;

private:
    torch::Tensor data;
    int64_t batchSize;
    FlowMatchingSettings settings;
    ShuffledBatches order;
};

} // namespace bg

#endif
