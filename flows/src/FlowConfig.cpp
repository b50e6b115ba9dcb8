#include "bg/FlowConfig.h"

#include "JsonObject.h"
#include "ModelConfigFields.h"

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

namespace bg {

using nlohmann::json;

static void fail(const std::string& message) {
    throw std::invalid_argument("FlowConfig: " + message);
}

static constexpr EnumNames<Projection, 3> projectionNames = {
        "FlowConfig",
        "projection",
        {{Projection::Vector, "vector"}, {Projection::Cartesian, "cartesian"}, {Projection::Spherical, "spherical"}}};

static constexpr EnumNames<InnerTransform, 2> transformNames = {
        "FlowConfig", "inner transform", {{InnerTransform::Affine, "affine"}, {InnerTransform::Spline, "spline"}}};

/**
 * The JSON fields of a FlowConfig, listed once for toJson() and fromJson() (JsonObject.h): visit(key,
 * member) for each, with the name table for an enum, in the order fromJson() reads them.
 */
static const auto flowFields = [](auto& c, auto&& visit) {
    visitSharedModelFields(c, visit);
    visit("numAugmented", c.numAugmented);
    visit("projection", c.projection, projectionNames);
    visit("innerTransform", c.innerTransform, transformNames);
    visit("splineBins", c.splineBins);
    visit("radiusMax", c.radiusMax);
    visit("cartesianRange", c.cartesianRange);
    visit("frameRegulariser", c.frameRegulariser);
    visit("numBlocks", c.numBlocks);
    visit("numInnerTransforms", c.numInnerTransforms);
    visit("headWidths", c.headWidths);
    visit("eta", c.eta);
    visit("auxLossWeight", c.auxLossWeight);
    visit("identityInit", c.identityInit);
    visit("scalingBlock", c.scalingBlock);
};

int FlowConfig::resolvedInnerTransforms() const {
    if (numInnerTransforms > 0)
        return numInnerTransforms;
    return projection == Projection::Vector ? dimension : 1;
}

void FlowConfig::validate() const {
    if (numParticles < 2)
        fail("numParticles must be at least 2, got " + std::to_string(numParticles));
    if (dimension != 2 && dimension != 3)
        fail("dimension must be 2 or 3, got " + std::to_string(dimension));
    if (dimension == 3 && numParticles < 3 && projection != Projection::Vector)
        fail(std::string("the ") + toString(projection) + " projection needs at least 3 particles in 3-D (the frame of a pair is " +
             "degenerate: every equivariant vector lies on its axis); use the vector projection for " + std::to_string(numParticles) +
             " particles");
    if (numAugmented < 1 || numAugmented % 2 == 0)
        fail("numAugmented must be odd and positive (the multiplicity axis splits into two equal groups), got " +
             std::to_string(numAugmented));
    if (splineBins < 2)
        fail("splineBins must be at least 2, got " + std::to_string(splineBins));
    if (!(radiusMax > 0) || !(cartesianRange > 0))
        fail("radiusMax and cartesianRange must be positive");
    if (!(frameRegulariser >= 0))
        fail("frameRegulariser must not be negative");
    if (numBlocks < 1)
        fail("numBlocks must be at least 1, got " + std::to_string(numBlocks));
    if (numInnerTransforms < 0)
        fail("numInnerTransforms must be 0 (default) or positive");
    if (egnnLayers < 1 || egnnWidth < 1 || invariantFeatures < 1)
        fail("egnnLayers, egnnWidth and invariantFeatures must be positive");
    if (headWidths.empty())
        fail("headWidths must not be empty");
    for (int w : headWidths)
        if (w != headWidths[0] || w < 1)
            fail("headWidths must be equal positive widths");
    if (!(eta > 0))
        fail("eta must be positive, got " + std::to_string(eta));
    if (auxLossWeight < 0)
        fail("auxLossWeight must not be negative");
    if (numEmbeddings < 0)
        fail("numEmbeddings must not be negative");
    if (particleTypes.empty() && numEmbeddings > 0 && numEmbeddings < numParticles)
        fail("numEmbeddings must be at least numParticles when particles are embedded by index");
    if (!particleTypes.empty()) {
        if ((int) particleTypes.size() != numParticles)
            fail("particleTypes needs one entry per particle");
        if (numEmbeddings == 0)
            fail("particleTypes needs an embedding table (numEmbeddings > 0)");
        for (int t : particleTypes)
            if (t < 0 || t >= numEmbeddings)
                fail("particleTypes entries must lie in [0, numEmbeddings)");
    }
    if (embeddingDim < 1)
        fail("embeddingDim must be positive");
    if (innerTransform == InnerTransform::Affine && projection != Projection::Cartesian)
        fail("the affine inner transform needs the cartesian projection (radii and angles use splines)");
    if (dtype != "float32" && dtype != "float64")
        fail("dtype must be float32 or float64, got '" + dtype + "'");
}

std::string FlowConfig::toJson() const {
    return fieldsToJson(*this, flowFields).dump(2);
}

FlowConfig FlowConfig::fromJson(const std::string& text) {
    return configFromJson<FlowConfig>(text, "FlowConfig", flowFields);
}

const char* toString(Projection projection) {
    return projectionNames.name(projection);
}

const char* toString(InnerTransform transform) {
    return transformNames.name(transform);
}

} // namespace bg
