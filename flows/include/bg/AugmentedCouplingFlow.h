#ifndef BG_AUGMENTED_COUPLING_FLOW_H_
#define BG_AUGMENTED_COUPLING_FLOW_H_

#include "bg/ConditionalGaussian.h"
#include "bg/CouplingLayer.h"
#include "bg/FlowConfig.h"
#include "bg/ZeroCoMGaussian.h"

#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <optional>
#include <string>
#include <vector>

namespace bg {

/** Configurations and their joint log density, as produced by AugmentedCouplingFlow::sample(). */
struct FlowSample {
    torch::Tensor x;        ///< [n, N, D], zero centre of mass
    torch::Tensor a;        ///< [n, K, N, D]
    torch::Tensor logProb;  ///< [n], log q(x, a)
};

/** Output of a pass through the flow's bijection. */
struct FlowTransform {
    torch::Tensor x;        ///< [B, N, D]
    torch::Tensor a;        ///< [B, K, N, D]
    torch::Tensor logDet;   ///< [B], log |det| of the map that was applied
};

/**
 * The SE(3)-equivariant augmented coupling flow (E-ACF): a zero-CoM Gaussian base over x, the
 * conditional Gaussian a ~ N(x, eta^2 I) over K augmented sets, and numBlocks blocks of two
 * equivariant projection couplings (each block headed by a ScalingBlock if config.scalingBlock,
 * model-spec 3.2 and 6). log q(x, a) is invariant to rotations, to joint translations
 * of (x, a) and to permutations of the particles (model-spec sections 2-8).
 *
 * Units: positions in nm; log densities in the reduced units of the flow.
 */
class AugmentedCouplingFlowImpl : public torch::nn::Module {
public:
    explicit AugmentedCouplingFlowImpl(const FlowConfig& config);
    const FlowConfig& getConfig() const {
        return config;
    }
    /**
     * Draw n samples with their joint log density, in one pass. Runs under the caller's grad mode:
     * wrap in torch::NoGradGuard when no gradient is needed.
     */
    FlowSample sample(int64_t n, std::optional<at::Generator> generator = std::nullopt);
    /** Joint log density log q(x, a) for x [B, N, D] and a [B, K, N, D]; returns [B]. */
    torch::Tensor logProb(const torch::Tensor& x, const torch::Tensor& a);
    /**
     * Importance-weighted estimate of the marginal log q(x) from M draws a_m ~ pi(a|x):
     * logsumexp_m [log q(x, a_m) - log pi(a_m|x)] - log M. Evaluated without gradients.
     */
    torch::Tensor marginalLogProb(const torch::Tensor& x, int numDraws, std::optional<at::Generator> generator = std::nullopt);
    /** Base -> data direction (sampling). x0 must have zero centre of mass. */
    FlowTransform forward(const torch::Tensor& x0, const torch::Tensor& a0);
    /** Data -> base direction; the centre of mass of x is removed from x and a first. */
    FlowTransform inverse(const torch::Tensor& x, const torch::Tensor& a);
    /** Mean collinearity aux loss over the coupling layers of the last pass (scalar). */
    torch::Tensor auxLoss() const;
    /** The augmented target pi(a|x) (same family and eta as the base of a). */
    const ConditionalGaussian& augmentedTarget() const {
        return conditional;
    }
    /** The device the flow's parameters live on (move the flow with Module::to(device)). */
    torch::Device device() const {
        return nodeFeatures.device();
    }
    /** Number of trainable scalars. */
    int64_t numParameters() const;
    /**
     * Gradient checkpointing: when on, passes run with gradients enabled keep only the input of
     * each coupling layer for the backward pass and recompute the layer there. Training then needs
     * memory for one layer's activations instead of all of them, at the cost of about one more
     * forward pass. Results (values and gradients) are the same as without it. Off by default.
     */
    void setGradientCheckpointing(bool enabled) {
        checkpointing = enabled;
    }
    bool getGradientCheckpointing() const {
        return checkpointing;
    }
    /**
     * The largest batch that sample(), logProb() and marginalLogProb() push through the flow at once
     * while gradients are disabled (NoGradGuard or InferenceMode); larger requests are processed in
     * consecutive chunks, which bounds the memory of sampling and evaluation. 0 (the default) means
     * no limit. With gradients enabled the whole batch is always one pass. Chunked sampling draws the
     * same kind of samples, but a different random stream than one unchunked pass.
     */
    void setInferenceBatchSize(int64_t maxBatch);
    int64_t getInferenceBatchSize() const {
        return inferenceBatchSize;
    }

private:
    FlowTransform run(const torch::Tensor& x, const torch::Tensor& a, bool inverse);
    /** The trainable tensors of block b: its two couplings and its scaling block (if any), in a fixed order. */
    std::vector<torch::Tensor> blockParameters(int b);
    FlowSample sampleOnce(int64_t n, std::optional<at::Generator> generator);
    torch::Tensor logProbOnce(const torch::Tensor& x, const torch::Tensor& a);
    /** The batch size to process at once now: 0 for "all", else inferenceBatchSize. */
    int64_t activeChunk() const;
    FlowConfig config;
    ZeroCoMGaussian base;
    ConditionalGaussian conditional;
    torch::nn::ModuleList layers;
    torch::nn::ModuleList scalings{nullptr};   // one ScalingBlock per block if config.scalingBlock, else null
    torch::Tensor nodeFeatures;
    std::vector<torch::Tensor> lastAuxLosses;   // one per coupling layer of the last pass
    bool checkpointing = false;
    int64_t inferenceBatchSize = 0;
};
TORCH_MODULE(AugmentedCouplingFlow);

/** Serialise configuration and weights into one byte string (for files and XML embedding). */
std::string saveFlow(AugmentedCouplingFlow& flow);
/** Rebuild a flow from saveFlow() bytes; throws std::invalid_argument on malformed data. */
AugmentedCouplingFlow loadFlow(const std::string& bytes);
/** Write saveFlow() bytes to a file. */
void saveFlowToFile(AugmentedCouplingFlow& flow, const std::string& path);
/** Read a flow written by saveFlowToFile(). */
AugmentedCouplingFlow loadFlowFromFile(const std::string& path);

} // namespace bg

#endif
