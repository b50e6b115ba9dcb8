#include "bg/FlowMatchingMethod.h"
#include "bg/ModelAdapters.h"

#include "JsonObject.h"
#include "SingleUpdateStats.h"

#include <torch/torch.h>

#include <stdexcept>
#include <string>

namespace bg {

using nlohmann::json;

static constexpr EnumNames<Pairing, 3> pairingNames = {
        "FlowMatchingSettings",
        "pairing",
        {{Pairing::Independent, "independent"}, {Pairing::MinibatchOt, "ot"}, {Pairing::EquivariantOt, "equivariant-ot"}}};

FlowMatchingSettings FlowMatchingSettings::fromJson(const std::string& text) {
    const std::string owner = "FlowMatchingSettings";
    json j = parseJsonObject(text, owner);
    rejectUnknownKeys(j, {"pairing", "alignmentIterations", "reflections", "permute", "randomRotations"}, owner);
    FlowMatchingSettings s;
    readJsonValues(owner, [&] {
        readOptional(j, "pairing", s.pairing, pairingNames);
        readOptional(j, "alignmentIterations", s.alignment.iterations);
        readOptional(j, "reflections", s.alignment.reflections);
        readOptional(j, "permute", s.alignment.permute);
        readOptional(j, "randomRotations", s.randomRotations);
    });
    if (s.alignment.iterations < 1)
        throw std::invalid_argument(owner + ": alignmentIterations must be at least 1");
    return s;
}

std::string FlowMatchingSettings::toJson() const {
    json j = {{"pairing", pairingNames.name(pairing)},
              {"alignmentIterations", alignment.iterations},
              {"reflections", alignment.reflections},
              {"permute", alignment.permute},
              {"randomRotations", randomRotations}};
    return j.dump(2);
}

FlowMatchingMethod::FlowMatchingMethod(const torch::Tensor& data, int64_t batchSize, FlowMatchingSettings settings)
        : batchSize(batchSize), settings(std::move(settings)) {
    if (!data.defined() || data.dim() != 3)
        throw std::invalid_argument("FlowMatchingMethod: expected training data of shape [n, N, D]");
    if (batchSize < 1 || data.size(0) < batchSize)
        throw std::invalid_argument("FlowMatchingMethod: needs at least batchSize = " + std::to_string(batchSize) + " samples, got " +
                                    std::to_string(data.size(0)));
    this->data = removeCentreOfMass(data.detach());
    order = ShuffledBatches(data.size(0), batchSize);
}

torch::Tensor FlowMatchingMethod::pairedNoise(EquivariantCnf& cnf, const torch::Tensor& x1, torch::Generator& generator) const {
    torch::Tensor x0 = cnf->sampleBase(x1.size(0), generator);
    switch (settings.pairing) {
    case Pairing::MinibatchOt:
        return minibatchOtCoupling(x0, x1);
    case Pairing::EquivariantOt: {
        AlignmentOptions options = settings.alignment;
        options.particleTypes = cnf->getConfig().particleTypes;
        return equivariantOtCoupling(x0, x1, options);
    }
    default:
        return x0;
    }
}

torch::Tensor FlowMatchingMethod::loss(EquivariantCnf& cnf, const torch::Tensor& x0, const torch::Tensor& x1, const torch::Tensor& t) {
    const double shrink = 1.0 - cnf->getConfig().sigmaMin;
    torch::Tensor tt = t.view({-1, 1, 1});
    torch::Tensor xt = (1.0 - shrink * tt) * x0 + tt * x1;
    torch::Tensor target = x1 - shrink * x0;
    return (cnf->velocity(xt, t) - target).square().mean();
}

StepStats FlowMatchingMethod::step(GenerativeModel& model, SkipClipAdam& optimizer, torch::Generator& generator) {
    return step(cnfOf(model, "flow matching (method 'fm')"), optimizer, generator);
}

StepStats FlowMatchingMethod::step(EquivariantCnf& cnf, SkipClipAdam& optimizer, torch::Generator& generator) {
    const auto options = torch::TensorOptions().dtype(cnf->dtype()).device(cnf->device());
    torch::Tensor x1 = data.index_select(0, order.next(generator)).to(options);
    const bool rotating = settings.pairing == Pairing::EquivariantOt && settings.alignment.rotate && settings.randomRotations;
    if (rotating)
        x1 = x1.matmul(randomRotations(batchSize, x1.size(2), options, generator).transpose(1, 2));
    torch::Tensor x0 = pairedNoise(cnf, x1, generator);
    torch::Tensor t = at::rand({batchSize}, generator, torch::TensorOptions().dtype(cnf->dtype())).to(cnf->device());
    optimizer.zeroGrad();
    torch::Tensor value = loss(cnf, x0, x1, t);
    value.backward();
    StepReport report = optimizer.step();
    return singleUpdateStats(value.item<double>(), report, batchSize);
}

void FlowMatchingMethod::save(torch::serialize::OutputArchive& archive) const {
    order.save(archive, "fm");
}

void FlowMatchingMethod::load(torch::serialize::InputArchive& archive) {
    order.load(archive, "fm", "FlowMatchingMethod");
}

} // namespace bg
