#ifndef BG_STABLE_MLP_H_
#define BG_STABLE_MLP_H_

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <vector>

namespace bg {

/**
 * Linear layer initialised as in the reference model: weights from a truncated normal with
 * standard deviation 1/sqrt(fan_in) (truncated at 2 standard deviations), biases zero.
 */
torch::nn::Linear makeLinear(int inputs, int outputs);

/**
 * Overwrite a Linear layer's weights with VarianceScaling(scale, fan_avg, uniform), i.e. uniform on
 * [-l, l] with l = sqrt(3 scale / ((fan_in + fan_out)/2)), and zero its bias.
 */
void varianceScalingInit(torch::nn::Linear& layer, double scale);

/**
 * Residual MLP with LayerNorm (model-spec 7.3): Linear(w1) -> SiLU, then for each further width
 * x + SiLU(Linear(LayerNorm(x))). All widths must be equal. If activateFinal is false the last
 * residual block has no SiLU (x + Linear(LayerNorm(x))); with a single width that leaves the first
 * Linear unactivated. Throws std::invalid_argument for empty or unequal widths.
 */
class StableMlpImpl : public torch::nn::Module {
public:
    StableMlpImpl(int inputs, std::vector<int> widths, bool activateFinal = true);
    torch::Tensor forward(const torch::Tensor& x);
    int outputs() const {
        return widths.back();
    }
    /** The first Linear layer (the EGNN applies it to its concatenated edge inputs block by block). */
    torch::nn::Linear& firstLayer() {
        return first;
    }
    /** forward() continued from the first Linear's output: forward(x) == forwardFromFirst(firstLayer()(x)). */
    torch::Tensor forwardFromFirst(const torch::Tensor& firstOutput);

private:
    std::vector<int> widths;
    bool activateFinal;
    torch::nn::Linear first{nullptr};
    torch::nn::ModuleList norms, linears;            // registered containers (parameter names norms.k, linears.k)
    std::vector<torch::nn::LayerNorm> normLayers;    // the same modules, typed for forward()
    std::vector<torch::nn::Linear> linearLayers;
};
TORCH_MODULE(StableMlp);

/**
 * Maps invariant features to the parameters of an inner transform: StableMlp(widths) then
 * Linear(numOutputs). With identityInit the final Linear starts at zero (so the coupling starts
 * as the identity), otherwise VarianceScaling(0.1).
 */
class ConditionerHeadImpl : public torch::nn::Module {
public:
    ConditionerHeadImpl(int inputs, std::vector<int> widths, int numOutputs, bool identityInit);
    torch::Tensor forward(const torch::Tensor& h);

private:
    StableMlp mlp{nullptr};
    torch::nn::Linear out{nullptr};
};
TORCH_MODULE(ConditionerHead);

} // namespace bg

#endif
