#include "bg/FlowMatchingMethod.h"

#include "JsonObject.h"

#include <torch/torch.h>

#include <set>
#include <stdexcept>
#include <string>

namespace bg {

using nlohmann::json;

FlowMatchingSettings FlowMatchingSettings::fromJson(const std::string& text) {
    const std::string owner = "FlowMatchingSettings";
    json j = parseJsonObject(text, owner);
    const std::set<std::string> known = {"pairing", "alignmentIterations", "reflections", "permute", "randomRotations"};
    for (auto it = j.begin(); it != j.end(); ++it)
        if (known.count(it.key()) == 0)
            throw std::invalid_argument(owner + ": unknown key '" + it.key() + "'");
    FlowMatchingSettings s;
    try {
        if (j.contains("pairing")) {
            const std::string p = j.at("pairing").get<std::string>();
            if (p == "independent")
                s.pairing = Pairing::Independent;
            else if (p == "ot")
                s.pairing = Pairing::MinibatchOt;
            else if (p == "equivariant-ot")
                s.pairing = Pairing::EquivariantOt;
            else
                throw std::invalid_argument(owner + ": unknown pairing '" + p + "' (independent | ot | equivariant-ot)");
        }
        if (j.contains("alignmentIterations"))
            s.alignment.iterations = j.at("alignmentIterations").get<int>();
        if (j.contains("reflections"))
            s.alignment.reflections = j.at("reflections").get<bool>();
        if (j.contains("permute"))
            s.alignment.permute = j.at("permute").get<bool>();
        if (j.contains("randomRotations"))
            s.randomRotations = j.at("randomRotations").get<bool>();
    }
    catch (const json::exception& e) {
        throw std::invalid_argument(owner + ": wrong value type: " + e.what());
    }
    if (s.alignment.iterations < 1)
        throw std::invalid_argument(owner + ": alignmentIterations must be at least 1");
    return s;
}

std::string FlowMatchingSettings::toJson() const {
    const char* names[] = {"independent", "ot", "equivariant-ot"};
    json j = {{"pairing", names[static_cast<int>(pairing)]},
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

StepStats FlowMatchingMethod::step(EquivariantCnf& cnf, SkipClipAdam& optimizer, torch::Generator& generator) {
    if (!permutation.defined() || position >= callsPerEpoch()) {
        if (permutation.defined())
            epoch++;
        permutation = torch::randperm(data.size(0), generator, torch::TensorOptions().dtype(torch::kInt64));
        position = 0;
    }
    const auto options = torch::TensorOptions().dtype(cnf->dtype()).device(cnf->device());
    torch::Tensor x1 = data.index_select(0, permutation.narrow(0, position * batchSize, batchSize)).to(options);
    position++;
    const bool rotating = settings.pairing == Pairing::EquivariantOt && settings.alignment.rotate && settings.randomRotations;
    if (rotating)
        x1 = x1.matmul(randomRotations(batchSize, x1.size(2), options, generator).transpose(1, 2));
    torch::Tensor x0 = pairedNoise(cnf, x1, generator);
    torch::Tensor t = at::rand({batchSize}, generator, torch::TensorOptions().dtype(cnf->dtype())).to(cnf->device());
    optimizer.zeroGrad();
    torch::Tensor value = loss(cnf, x0, x1, t);
    value.backward();
    StepReport report = optimizer.step();
    StepStats stats;
    stats.loss = value.item<double>();
    stats.gradNorm = report.gradientNorm;
    stats.learningRate = report.learningRate;
    stats.updates = 1;
    stats.skipped = report.skipped ? 1 : 0;
    stats.clipped = report.clipped ? 1 : 0;
    stats.samples = batchSize;
    return stats;
}

void FlowMatchingMethod::save(torch::serialize::OutputArchive& archive) const {
    archive.write("fm_permutation", permutation.defined() ? permutation : torch::empty({0}, torch::kInt64));
    archive.write("fm_counters", torch::tensor({position, epoch, int64_t(permutation.defined() ? 1 : 0)}, torch::kInt64));
}

void FlowMatchingMethod::load(torch::serialize::InputArchive& archive) {
    torch::Tensor saved, counters;
    archive.read("fm_permutation", saved);
    archive.read("fm_counters", counters);
    if (counters[2].item<int64_t>() != 0 && saved.numel() != data.size(0))
        throw std::runtime_error("FlowMatchingMethod: the checkpoint was written for " + std::to_string(saved.numel()) +
                                 " training samples, not " + std::to_string(data.size(0)));
    position = counters[0].item<int64_t>();
    epoch = counters[1].item<int64_t>();
    permutation = counters[2].item<int64_t>() != 0 ? saved.clone() : torch::Tensor();
}

} // namespace bg
