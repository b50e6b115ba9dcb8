#ifndef BG_MODEL_CONFIG_FIELDS_H_
#define BG_MODEL_CONFIG_FIELDS_H_

// Private helpers for what FlowConfig (E-ACF) and CnfConfig (E-CNF) have in common: the particle
// count and dimension, the EGNN sizes, the particle embedding and the dtype, with the same names.

#include "JsonObject.h"
#include "bg/EGNN.h"

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace bg {

/**
 * Call visit(key, member) for the shared fields of a configuration (FlowConfig or CnfConfig, const
 * or not), in this order: numParticles, dimension, egnnLayers, egnnWidth, invariantFeatures,
 * numEmbeddings, embeddingDim, particleTypes, dtype. Part of each configuration's field list
 * (fieldsToJson(), fieldKeys(), readFields() in JsonObject.h).
 */
template <class Config, class Visit>
void visitSharedModelFields(Config& c, Visit&& visit) {
    visit("numParticles", c.numParticles);
    visit("dimension", c.dimension);
    visit("egnnLayers", c.egnnLayers);
    visit("egnnWidth", c.egnnWidth);
    visit("invariantFeatures", c.invariantFeatures);
    visit("numEmbeddings", c.numEmbeddings);
    visit("embeddingDim", c.embeddingDim);
    visit("particleTypes", c.particleTypes);
    visit("dtype", c.dtype);
}

/**
 * The EGNN of a configuration: numLayers = egnnLayers, mlpWidth = egnnWidth, numFeatures =
 * invariantFeatures and the particle embedding from the configuration; the channel counts (and
 * no conditioning features) from the caller.
 */
template <class Config>
EGNNSettings egnnSettingsFor(const Config& c, int numChannelsIn, int numVectorsOut) {
    EGNNSettings s;
    s.numChannelsIn = numChannelsIn;
    s.numVectorsOut = numVectorsOut;
    s.numLayers = c.egnnLayers;
    s.mlpWidth = c.egnnWidth;
    s.numFeatures = c.invariantFeatures;
    s.numEmbeddings = c.numEmbeddings;
    s.embeddingDim = c.embeddingDim;
    return s;
}

/** The embedding-table row of every particle, int64 [N]: particleTypes, or 0..N-1 if it is empty. */
template <class Config>
torch::Tensor particleTypeIndices(const Config& c) {
    if (c.particleTypes.empty())
        return torch::arange(c.numParticles, torch::kInt64);
    return torch::tensor(std::vector<int64_t>(c.particleTypes.begin(), c.particleTypes.end()), torch::kInt64);
}

} // namespace bg

#endif
