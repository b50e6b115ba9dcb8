#include "bg/AugmentedCouplingFlow.h"

#include "bg/SavedFlow.h"
#include "bg/ScalingBlock.h"

#include "CheckpointedCoupling.h"
#include "FileBytes.h"
#include "ModelConfigFields.h"
#include "SavedModelFormat.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace bg {

AugmentedCouplingFlowImpl::AugmentedCouplingFlowImpl(const FlowConfig& cfg)
        : config((cfg.validate(), cfg)), base(cfg.numParticles, cfg.dimension), conditional(cfg.eta) {
    layers = register_module("layers", torch::nn::ModuleList());
    // Each block is [coupling(swap=false), coupling(swap=true)]; stored flat in that order.
    for (int b = 0; b < config.numBlocks; b++) {
        layers->push_back(CouplingLayer(config, false));
        layers->push_back(CouplingLayer(config, true));
    }
    // Registered only when used, so flows saved without scaling blocks keep their parameter names.
    if (config.scalingBlock) {
        scalings = register_module("scalings", torch::nn::ModuleList());
        for (int b = 0; b < config.numBlocks; b++)
            scalings->push_back(ScalingBlock(config.numAugmented, config.identityInit));
    }
    // Every block starts with the weights of the first one (model-spec 3.2).
    {
        torch::NoGradGuard noGrad;
        const std::vector<torch::Tensor> firstBlock = blockParameters(0);
        for (int b = 1; b < config.numBlocks; b++) {
            const std::vector<torch::Tensor> block = blockParameters(b);
            for (size_t index = 0; index < block.size(); index++)
                block[index].copy_(firstBlock[index]);
        }
    }
    nodeFeatures = register_buffer("nodeFeatures", particleTypeIndices(config));
    if (config.dtype == "float64") {
        // Module::to(dtype) converts every buffer, the integer node features too: restore them.
        to(torch::kFloat64);
        nodeFeatures.set_data(nodeFeatures.to(torch::kInt64));
    }
}

std::vector<torch::Tensor> AugmentedCouplingFlowImpl::blockParameters(int b) {
    std::vector<torch::Tensor> tensors;
    for (int k = 0; k < 2; k++)
        for (const torch::Tensor& p : layers[2 * b + k]->parameters())
            tensors.push_back(p);
    if (scalings)
        for (const torch::Tensor& p : scalings[b]->parameters())
            tensors.push_back(p);
    return tensors;
}

FlowTransform AugmentedCouplingFlowImpl::run(const torch::Tensor& x, const torch::Tensor& a, bool inverse) {
    const int64_t n = config.numParticles, d = config.dimension;
    if (x.dim() != 3 || x.size(1) != n || x.size(2) != d)
        throw std::invalid_argument("AugmentedCouplingFlow: x must have shape [B, " + std::to_string(n) + ", " + std::to_string(d) + "]");
    if (a.dim() != 4 || a.size(0) != x.size(0) || a.size(1) != config.numAugmented || a.size(2) != n || a.size(3) != d)
        throw std::invalid_argument("AugmentedCouplingFlow: a must have shape [B, " + std::to_string(config.numAugmented) + ", " +
                                    std::to_string(n) + ", " + std::to_string(d) + "]");
    // z [B, N, K+1, D]: slot 0 is x, slots 1..K the augmented sets.
    torch::Tensor z = torch::cat({x.unsqueeze(2), a.permute({0, 2, 1, 3})}, 2);
    if (inverse)
        z = z - x.mean(1, true).unsqueeze(2);
    torch::Tensor logDet = torch::zeros({x.size(0)}, x.options());
    // Sampling runs blocks 0..L-1, each applying its swap=true coupling and then its swap=false one;
    // the inverse runs the blocks in reverse order with each coupling inverted.
    const int numBlocks = config.numBlocks;
    const bool recompute = checkpointing && torch::GradMode::is_enabled();
    // A later module-wide to(dtype) by the caller converts the features buffer as well.
    const torch::Tensor features = nodeFeatures.is_floating_point() ? nodeFeatures.round().to(torch::kInt64) : nodeFeatures;
    lastAuxLosses.clear();
    auto applyScaling = [&](int block) {
        auto [scaled, ld] = scalings[block]->as<ScalingBlockImpl>()->forward(z, inverse);
        z = scaled;
        logDet = logDet + ld;
    };
    for (int step = 0; step < 2 * numBlocks; step++) {
        int block = inverse ? numBlocks - 1 - step / 2 : step / 2;
        bool swapStep = inverse ? (step % 2 == 1) : (step % 2 == 0);
        // A block's scaling block comes first in the log_prob direction and last when sampling (model-spec 3.2).
        const bool scalingNow = scalings && (inverse ? step % 2 == 0 : step % 2 == 1);
        if (scalingNow && inverse)
            applyScaling(block);
        CouplingLayerImpl& layer = *layers[2 * block + (swapStep ? 1 : 0)]->as<CouplingLayerImpl>();
        if (recompute) {
            CouplingOutput out = checkpointedCoupling(layer, z, features, inverse);
            z = out.z;
            logDet = logDet + out.logDet;
            lastAuxLosses.push_back(out.auxLoss);
        }
        else {
            auto [out, ld] = layer.forward(z, features, inverse);
            z = out;
            logDet = logDet + ld;
            lastAuxLosses.push_back(layer.lastAuxLoss());
        }
        if (scalingNow && !inverse)
            applyScaling(block);
    }
    torch::Tensor xOut = z.select(2, 0);
    torch::Tensor aOut = z.narrow(2, 1, config.numAugmented).permute({0, 2, 1, 3});
    return {xOut, aOut, logDet};
}

FlowTransform AugmentedCouplingFlowImpl::forward(const torch::Tensor& x0, const torch::Tensor& a0) {
    return run(x0, a0, false);
}

FlowTransform AugmentedCouplingFlowImpl::inverse(const torch::Tensor& x, const torch::Tensor& a) {
    return run(x, a, true);
}

void AugmentedCouplingFlowImpl::setInferenceBatchSize(int64_t maxBatch) {
    if (maxBatch < 0)
        throw std::invalid_argument("AugmentedCouplingFlow::setInferenceBatchSize: the batch size must not be negative");
    inferenceBatchSize = maxBatch;
}

int64_t AugmentedCouplingFlowImpl::activeChunk() const {
    return torch::GradMode::is_enabled() ? 0 : inferenceBatchSize;
}

FlowSample AugmentedCouplingFlowImpl::sample(int64_t n, std::optional<at::Generator> generator) {
    const int64_t chunk = activeChunk();
    if (chunk == 0 || n <= chunk)
        return sampleOnce(n, generator);
    std::vector<torch::Tensor> xs, as, logProbs;
    for (int64_t start = 0; start < n; start += chunk) {
        FlowSample part = sampleOnce(std::min(chunk, n - start), generator);
        xs.push_back(part.x);
        as.push_back(part.a);
        logProbs.push_back(part.logProb);
    }
    return {torch::cat(xs), torch::cat(as), torch::cat(logProbs)};
}

FlowSample AugmentedCouplingFlowImpl::sampleOnce(int64_t n, std::optional<at::Generator> generator) {
    auto options = nodeFeatures.options().dtype(config.dtype == "float64" ? torch::kFloat64 : torch::kFloat32);
    torch::Tensor x0 = base.sample(n, options, generator);
    torch::Tensor a0 = conditional.sample(x0, config.numAugmented, generator);
    torch::Tensor logBase = base.logProb(x0) + conditional.logProb(a0, x0);
    FlowTransform out = run(x0, a0, false);
    return {out.x, out.a, logBase - out.logDet};
}

torch::Tensor AugmentedCouplingFlowImpl::logProb(const torch::Tensor& x, const torch::Tensor& a) {
    const int64_t chunk = activeChunk(), batch = x.dim() > 0 ? x.size(0) : 0;
    if (chunk == 0 || batch <= chunk || a.dim() == 0 || a.size(0) != batch)
        return logProbOnce(x, a);
    std::vector<torch::Tensor> parts;
    for (int64_t start = 0; start < batch; start += chunk) {
        const int64_t length = std::min(chunk, batch - start);
        parts.push_back(logProbOnce(x.narrow(0, start, length), a.narrow(0, start, length)));
    }
    return torch::cat(parts);
}

torch::Tensor AugmentedCouplingFlowImpl::logProbOnce(const torch::Tensor& x, const torch::Tensor& a) {
    FlowTransform out = run(x, a, true);
    return base.logProb(out.x) + conditional.logProb(out.a, out.x) + out.logDet;
}

torch::Tensor AugmentedCouplingFlowImpl::marginalLogProb(const torch::Tensor& x, int numDraws, std::optional<at::Generator> generator) {
    if (numDraws < 1)
        throw std::invalid_argument("AugmentedCouplingFlow::marginalLogProb: numDraws must be positive");
    torch::NoGradGuard noGrad;
    const int64_t batch = x.size(0);
    // All draws in one pass (chunked by logProb when an inference batch size is set): repeat x M
    // times along the batch.
    torch::Tensor xs = x.repeat({numDraws, 1, 1});
    torch::Tensor a = conditional.sample(xs, config.numAugmented, generator);
    torch::Tensor logW = logProb(xs, a) - conditional.logProb(a, xs);
    return torch::logsumexp(logW.view({numDraws, batch}), 0) - std::log(double(numDraws));
}

torch::Tensor AugmentedCouplingFlowImpl::auxLoss() const {
    torch::Tensor total;
    for (const torch::Tensor& loss : lastAuxLosses) {
        if (!loss.defined())
            continue;
        total = total.defined() ? total + loss : loss;
    }
    if (!total.defined())
        return torch::zeros({});
    return total / double(layers->size());
}

int64_t AugmentedCouplingFlowImpl::numParameters() const {
    int64_t count = 0;
    for (const auto& p : parameters())
        count += p.numel();
    return count;
}

// ---- Serialisation.
// Version 2 (written): "BGFLOW2\n" <config length> " " <payload length> " " <CRC-32 of the payload,
// 8 hex digits> "\n" payload, where payload = config JSON + torch archive of the module.
// Version 1 (still read, no checksum): "BGFLOW1\n" <config length> "\n" config JSON + torch archive.

static const std::string magicVersion1 = "BGFLOW1\n", magicVersion2 = "BGFLOW2\n";

namespace {

/** Verify a saveFlow() header (and the checksum of version 2); the configuration JSON and where the archive starts. */
SavedModelLayout parseSavedFlow(const std::string& bytes) {
    const bool version2 = bytes.compare(0, magicVersion2.size(), magicVersion2) == 0;
    if (!version2 && bytes.compare(0, magicVersion1.size(), magicVersion1) != 0)
        throw std::invalid_argument("loadFlow: the data is not a saved AugmentedCouplingFlow");
    const size_t headerStart = magicVersion1.size();
    const size_t lineEnd = bytes.find('\n', headerStart);
    if (lineEnd == std::string::npos)
        throw std::invalid_argument("loadFlow: truncated header");
    const std::string header = bytes.substr(headerStart, lineEnd - headerStart);
    if (version2)
        return unpackSavedModel(bytes, header, lineEnd, "loadFlow");
    const size_t configLength = parseHeaderLength(header, "loadFlow");
    if (lineEnd + 1 + configLength > bytes.size())
        throw std::invalid_argument("loadFlow: truncated configuration");
    return {bytes.substr(lineEnd + 1, configLength), lineEnd + 1 + configLength};
}

} // namespace

std::string saveFlow(AugmentedCouplingFlow& flow) {
    return packSavedModule(magicVersion2, flow);
}

AugmentedCouplingFlow loadFlow(const std::string& bytes) {
    return loadSavedModule<AugmentedCouplingFlow>(bytes, parseSavedFlow(bytes), "loadFlow");
}

void saveFlowToFile(AugmentedCouplingFlow& flow, const std::string& path) {
    writeFileBytes(path, saveFlow(flow), "saveFlowToFile");
}

AugmentedCouplingFlow loadFlowFromFile(const std::string& path) {
    return loadFlow(readFileBytes(path, "loadFlowFromFile"));
}

// bg/SavedFlow.h
FlowConfig readFlowConfig(const std::string& bytes) {
    return FlowConfig::fromJson(parseSavedFlow(bytes).configJson);
}

} // namespace bg
