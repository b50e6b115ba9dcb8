#include "bg/StableMlp.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>
#include <string>

namespace bg {

torch::nn::Linear makeLinear(int inputs, int outputs) {
    if (inputs < 1 || outputs < 1)
        throw std::invalid_argument("makeLinear: sizes must be positive, got " + std::to_string(inputs) + " -> " +
                                    std::to_string(outputs));
    torch::nn::Linear layer(torch::nn::LinearOptions(inputs, outputs).bias(true));
    torch::NoGradGuard noGrad;
    // Standard normal truncated to [-2, 2] by inverse-CDF sampling: u uniform on [Phi(-2), Phi(2)],
    // z = sqrt(2) erfinv(2u - 1). Drawn in double precision so the tails are exact, then scaled by
    // the nominal standard deviation 1/sqrt(fan_in) (as haiku's TruncatedNormal: the realised
    // standard deviation is 0.8796/sqrt(fan_in)).
    const double lower = 0.5 * std::erfc(2.0 / std::sqrt(2.0));   // Phi(-2)
    torch::Tensor u = torch::empty(layer->weight.sizes(), torch::kFloat64).uniform_(lower, 1.0 - lower);
    torch::Tensor z = std::sqrt(2.0) * torch::erfinv(2.0 * u - 1.0);
    layer->weight.copy_(z.clamp(-2.0, 2.0) / std::sqrt(static_cast<double>(inputs)));
    layer->bias.zero_();
    return layer;
}

void varianceScalingInit(torch::nn::Linear& layer, double scale) {
    const int64_t fanOut = layer->weight.size(0);
    const int64_t fanIn = layer->weight.size(1);
    // Uniform on [-l, l] has variance l^2/3; VarianceScaling(fan_avg) wants scale / ((fan_in + fan_out)/2).
    const double limit = std::sqrt(3.0 * scale / (0.5 * static_cast<double>(fanIn + fanOut)));
    torch::NoGradGuard noGrad;
    layer->weight.uniform_(-limit, limit);
    if (layer->bias.defined())
        layer->bias.zero_();
}

StableMlpImpl::StableMlpImpl(int inputs, std::vector<int> widthsIn, bool activateFinal)
    : widths(std::move(widthsIn)), activateFinal(activateFinal) {
    if (widths.empty())
        throw std::invalid_argument("StableMlp: needs at least one width");
    for (int w : widths) {
        if (w != widths[0])
            throw std::invalid_argument("StableMlp: all widths must be equal (residual blocks), got " +
                                        std::to_string(widths[0]) + " and " + std::to_string(w));
    }
    if (widths[0] < 1 || inputs < 1)
        throw std::invalid_argument("StableMlp: inputs and widths must be positive");
    first = register_module("first", makeLinear(inputs, widths[0]));
    norms = register_module("norms", torch::nn::ModuleList());
    linears = register_module("linears", torch::nn::ModuleList());
    for (size_t k = 1; k < widths.size(); k++) {
        // LayerNorm with learnable scale (ones) and offset (zeros), eps 1e-5 as haiku's default.
        normLayers.push_back(torch::nn::LayerNorm(torch::nn::LayerNormOptions({widths[k]}).eps(1e-5).elementwise_affine(true)));
        linearLayers.push_back(makeLinear(widths[k - 1], widths[k]));
        norms->push_back(normLayers.back());
        linears->push_back(linearLayers.back());
    }
}

torch::Tensor StableMlpImpl::forward(const torch::Tensor& x) {
    return forwardFromFirst(first(x));
}

torch::Tensor StableMlpImpl::forwardFromFirst(const torch::Tensor& firstOutput) {
    const size_t numLayers = widths.size();
    // Layer k (0-based) is activated unless it is the last one and activateFinal is false.
    torch::Tensor x = (numLayers > 1 || activateFinal) ? torch::silu(firstOutput) : firstOutput;
    for (size_t k = 1; k < numLayers; k++) {
        torch::Tensor y = linearLayers[k - 1](normLayers[k - 1](x));
        const bool activate = (k + 1 < numLayers) || activateFinal;
        x = x + (activate ? torch::silu(y) : y);
    }
    return x;
}

ConditionerHeadImpl::ConditionerHeadImpl(int inputs, std::vector<int> widths, int numOutputs, bool identityInit) {
    if (numOutputs < 1)
        throw std::invalid_argument("ConditionerHead: numOutputs must be positive, got " + std::to_string(numOutputs));
    mlp = register_module("mlp", StableMlp(inputs, std::move(widths), /*activateFinal=*/true));
    out = register_module("out", makeLinear(mlp->outputs(), numOutputs));
    if (identityInit) {
        // Zero output layer: the head outputs exactly 0, so the coupling starts as the identity.
        torch::NoGradGuard noGrad;
        out->weight.zero_();
        out->bias.zero_();
    }
    else
        varianceScalingInit(out, 0.1);
}

torch::Tensor ConditionerHeadImpl::forward(const torch::Tensor& h) {
    return out(mlp(h));
}

} // namespace bg
