#include "CheckpointedCoupling.h"

#include <torch/autograd.h>
#include <torch/torch.h>

#include <cstdint>

namespace bg {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

/**
 * Autograd function (z, parameters..., layer address, node features, inverse) -> (z', log-det, aux).
 * Parameters are explicit inputs so that autograd routes their gradients through backward().
 */
struct CheckpointFunction : public torch::autograd::Function<CheckpointFunction> {
    static variable_list forward(AutogradContext* ctx, torch::Tensor z, at::TensorList parameters, int64_t layerAddress,
                                 torch::Tensor nodeFeatures, bool inverse) {
        auto* layer = reinterpret_cast<CouplingLayerImpl*>(layerAddress);
        ctx->save_for_backward({z});
        ctx->saved_data["layer"] = layerAddress;
        ctx->saved_data["nodeFeatures"] = nodeFeatures;
        ctx->saved_data["inverse"] = inverse;
        ctx->saved_data["numParameters"] = int64_t(parameters.size());
        // Function::apply runs forward() with grad mode off: nothing is recorded here.
        auto [out, logDet] = layer->forward(z, nodeFeatures, inverse);
        return {out, logDet, layer->lastAuxLoss()};
    }

    static variable_list backward(AutogradContext* ctx, variable_list gradOutputs) {
        auto* layer = reinterpret_cast<CouplingLayerImpl*>(ctx->saved_data["layer"].toInt());
        torch::Tensor nodeFeatures = ctx->saved_data["nodeFeatures"].toTensor();
        const bool inverse = ctx->saved_data["inverse"].toBool();
        const int64_t numParameters = ctx->saved_data["numParameters"].toInt();
        torch::Tensor z = ctx->get_saved_variables()[0].detach().requires_grad_(true);
        std::vector<torch::Tensor> parameters = layer->parameters();
        variable_list outputs, grads;
        {
            torch::AutoGradMode enable(true);
            auto [out, logDet] = layer->forward(z, nodeFeatures, inverse);
            const torch::Tensor aux = layer->lastAuxLoss();
            const torch::Tensor recomputed[3] = {out, logDet, aux};
            for (int i = 0; i < 3; i++) {
                if (gradOutputs[i].defined() && recomputed[i].requires_grad()) {
                    outputs.push_back(recomputed[i]);
                    grads.push_back(gradOutputs[i]);
                }
            }
        }
        variable_list inputs = {z};
        inputs.insert(inputs.end(), parameters.begin(), parameters.end());
        variable_list inputGrads(inputs.size());
        if (!outputs.empty())
            inputGrads = torch::autograd::grad(outputs, inputs, grads, /*retain_graph=*/false, /*create_graph=*/false,
                                               /*allow_unused=*/true);
        // One entry per forward argument: z, each parameter, then layer address, node features, inverse.
        variable_list result;
        result.reserve(1 + numParameters + 3);
        result.push_back(inputGrads[0]);
        for (int64_t i = 0; i < numParameters; i++)
            result.push_back(inputGrads[1 + i]);
        result.push_back(torch::Tensor());
        result.push_back(torch::Tensor());
        result.push_back(torch::Tensor());
        return result;
    }
};

} // namespace

CouplingOutput checkpointedCoupling(CouplingLayerImpl& layer, const torch::Tensor& z, const torch::Tensor& nodeFeatures,
                                    bool inverse) {
    std::vector<torch::Tensor> parameters = layer.parameters();
    variable_list out = CheckpointFunction::apply(z, at::TensorList(parameters), reinterpret_cast<int64_t>(&layer),
                                                  nodeFeatures, inverse);
    return {out[0], out[1], out[2]};
}

} // namespace bg
