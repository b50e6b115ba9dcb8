#ifndef BG_EGNN_H_
#define BG_EGNN_H_

#include "bg/StableMlp.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/pimpl.h>

#include <memory>
#include <utility>
#include <vector>

namespace bg {

/** Sizes of a multi-channel EGNN (model-spec section 7). */
struct EGNNSettings {
    int numChannelsIn = 1;       ///< m: conditioning position channels per node
    int numVectorsOut = 3;       ///< output vectors per node; a multiple of numChannelsIn
    int numLayers = 3;           ///< EGCL layers
    int mlpWidth = 64;           ///< width of every MLP in the layers (two layers each)
    int numFeatures = 128;       ///< F, invariant features per node
    int numEmbeddings = 0;       ///< 0: one learned scalar for every node; else table size (e.g. 22 atoms)
    int embeddingDim = 32;       ///< width of the embedding table when numEmbeddings > 0
    /**
     * E, per-sample invariant conditioning features (e.g. the E-CNF's time embedding, ecnf-spec 1.1);
     * 0 = none. When E > 0, before every layer h <- h + Linear_F(c) with one Linear per layer.
     */
    int numConditioning = 0;
};

/**
 * E(n)-equivariant graph network on the fully connected graph of N nodes, with C vector channels
 * per node (model-spec 7.1-7.3). Input channels are centred per channel and each is repeated
 * numVectorsOut/numChannelsIn times consecutively; the output vectors are the final minus the
 * initial channel positions (rotation-equivariant, translation-invariant) and the invariant
 * features are Linear_F(softmax(h)).
 */
class EGNNImpl : public torch::nn::Module {
public:
    explicit EGNNImpl(const EGNNSettings& settings);
    /**
     * @param x             [B, N, C_in, D] positions of the conditioning channels
     * @param nodeFeatures  [N] int64 node indices into the embedding table (ignored, may be undefined,
     *                      when numEmbeddings == 0)
     * @return (vectors [B, N, numVectorsOut, D], features [B, N, F])
     * @throws std::invalid_argument for a wrong shape (N < 2 included), a dtype other than the
     *         parameters', or missing/ill-shaped nodeFeatures when numEmbeddings > 0
     */
    std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& x, const torch::Tensor& nodeFeatures);
    /**
     * forward() with per-sample invariant conditioning features (settings.numConditioning > 0); a
     * separate name, since an overloaded forward() breaks the module holder's call operator.
     * @param conditioning  [B, E] in the parameters' dtype, E = numConditioning; added to h before
     *                      every layer through a per-layer Linear_F (ecnf-spec 1.1 step 4)
     * @throws std::invalid_argument as forward(), and for conditioning of the wrong shape or given
     *         when numConditioning == 0 (or missing when it is > 0)
     */
    std::pair<torch::Tensor, torch::Tensor> forwardConditioned(const torch::Tensor& x, const torch::Tensor& nodeFeatures,
                                                               const torch::Tensor& conditioning);
    const EGNNSettings& getSettings() const {
        return settings;
    }

private:
    /**
     * One EGCL layer (model-spec 7.2). A registered submodule, so parameters(), to() and
     * serialization see its weights (names "layers.<k>.<member>...").
     */
    struct Layer : torch::nn::Module {
        Layer(int numFeatures, int numChannels, int width);
        /**
         * One message-passing step on V [B, N, C, D] and h [B, N, F]; returns the updated (V, h).
         * senders [N(N-1)] lists, receiver-major, the sender j of every ordered pair (i, j != i);
         * channelSenders [C(C-1)] does the same for the ordered channel pairs (r, s != r).
         */
        std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& V, const torch::Tensor& h,
                                                        const torch::Tensor& senders, const torch::Tensor& channelSenders);
        int numFeatures, numChannels, width;
        StableMlp edgeMlp{nullptr}, coordMlp{nullptr}, crossMlp{nullptr}, featureMlp{nullptr};
        torch::nn::Linear coordOut{nullptr}, crossOut{nullptr}, gate{nullptr}, featureOut{nullptr};
    };
    EGNNSettings settings;
    torch::Tensor scalarEmbedding;
    torch::nn::Embedding table{nullptr};
    torch::nn::Linear inputLinear{nullptr}, outputLinear{nullptr};
    torch::nn::ModuleList layerList;              // registers the layers
    torch::nn::ModuleList conditioningList;       // per-layer Linear_F of the conditioning (E > 0 only)
    std::vector<std::shared_ptr<Layer>> layers;   // the same layers, typed
};
TORCH_MODULE(EGNN);

/** sqrt(|v|^2) over the last dimension, with an exactly-zero vector given length 1 (model-spec 17). */
torch::Tensor safeNorm(const torch::Tensor& v, bool keepdim = false);

} // namespace bg

#endif
