#include "bg/CnfVectorField.h"

#include "bg/ZeroCoMGaussian.h"

#include "ModelConfigFields.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>
#include <string>

namespace bg {

torch::Tensor sinusoidalTimeEmbedding(const torch::Tensor& t, int dim, double scale) {
    const int half = dim / 2;
    torch::Tensor k = torch::arange(half, t.options());
    torch::Tensor frequencies = torch::exp(-std::log(1e4) / (half - 1) * k);   // [E/2]
    torch::Tensor s = scale * t.unsqueeze(1) * frequencies.unsqueeze(0);      // [B, E/2]
    return torch::cat({torch::sin(s), torch::cos(s)}, 1);
}

CnfVectorFieldImpl::CnfVectorFieldImpl(const CnfConfig& config) : config(config) {
    config.validate();
    EGNNSettings s = egnnSettingsFor(config, 1, 1);
    s.numConditioning = config.timeEmbeddingDim;
    egnn = register_module("egnn", EGNN(s));
    outputScale = register_parameter("outputScale", torch::ones({1}));
    if (config.numEmbeddings > 0)
        nodeFeatures = particleTypeIndices(config);
    if (config.dtype == "float64")
        to(torch::kFloat64);
}

torch::Tensor CnfVectorFieldImpl::forward(const torch::Tensor& x, const torch::Tensor& t) {
    const int64_t N = config.numParticles, D = config.dimension;
    if (!x.defined() || x.dim() != 3 || x.size(1) != N || x.size(2) != D)
        throw std::invalid_argument("CnfVectorField: expected x of shape [B, " + std::to_string(N) + ", " + std::to_string(D) + "]");
    if (!t.defined() || t.dim() != 1 || t.size(0) != x.size(0))
        throw std::invalid_argument("CnfVectorField: expected t of shape [" + std::to_string(x.size(0)) + "]");
    torch::Tensor features = nodeFeatures.defined() ? nodeFeatures.to(x.device()) : torch::Tensor();
    torch::Tensor embedding = sinusoidalTimeEmbedding(t.to(x.scalar_type()), config.timeEmbeddingDim, config.timeScale);
    torch::Tensor u = egnn->forwardConditioned(x.unsqueeze(2), features, embedding).first.squeeze(2);   // [B, N, D]
    return outputScale * removeCentreOfMass(u);
}

} // namespace bg
