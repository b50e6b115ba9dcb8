// FlowConfig: JSON round trip and validation.

#include "FlowTestUtilities.h"
#include "bg/FlowConfig.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

using namespace bg;
using bgtest::f64;

TEST(FlowConfig, JsonRoundTripKeepsEveryField) {
    FlowConfig c;
    c.numParticles = 22;
    c.dimension = 3;
    c.numAugmented = 3;
    c.projection = Projection::Cartesian;
    c.innerTransform = InnerTransform::Affine;
    c.splineBins = 5;
    c.radiusMax = 7.5;
    c.cartesianRange = 4.0;
    c.numBlocks = 20;
    c.numInnerTransforms = 2;
    c.egnnLayers = 2;
    c.egnnWidth = 128;
    c.invariantFeatures = 32;
    c.headWidths = {16, 16, 16};
    c.eta = 0.5;
    c.auxLossWeight = 1.0;
    c.numEmbeddings = 22;
    c.embeddingDim = 8;
    c.particleTypes = std::vector<int>(22, 3);
    c.identityInit = false;
    c.dtype = "float64";
    FlowConfig d = FlowConfig::fromJson(c.toJson());
    EXPECT_EQ(d.toJson(), c.toJson());
    EXPECT_EQ(d.numParticles, 22);
    EXPECT_EQ(d.projection, Projection::Cartesian);
    EXPECT_EQ(d.innerTransform, InnerTransform::Affine);
    EXPECT_EQ(d.headWidths, (std::vector<int>{16, 16, 16}));
    EXPECT_DOUBLE_EQ(d.eta, 0.5);
    EXPECT_FALSE(d.identityInit);
    EXPECT_EQ(d.dtype, "float64");
}

TEST(FlowConfig, MissingKeysKeepDefaultsAndInnerTransformsResolve) {
    FlowConfig d = FlowConfig::fromJson(R"({"dimension": 3, "numParticles": 13, "projection": "vector"})");
    EXPECT_EQ(d.numBlocks, 12);
    EXPECT_EQ(d.resolvedInnerTransforms(), 3);
    d.projection = Projection::Spherical;
    EXPECT_EQ(d.resolvedInnerTransforms(), 1);
}

TEST(FlowConfig, RejectsBadConfigurations) {
    auto bad = [](auto change) {
        FlowConfig c;
        change(c);
        EXPECT_THROW(c.validate(), std::invalid_argument);
    };
    bad([](FlowConfig& c) { c.numAugmented = 2; });
    bad([](FlowConfig& c) { c.dimension = 4; });
    bad([](FlowConfig& c) { c.dimension = 1; });
    bad([](FlowConfig& c) { c.numParticles = 1; });
    bad([](FlowConfig& c) { c.splineBins = 1; });
    bad([](FlowConfig& c) { c.eta = 0; });
    bad([](FlowConfig& c) { c.innerTransform = InnerTransform::Affine; });   // spherical needs splines
    bad([](FlowConfig& c) { c.headWidths = {64, 32}; });
    bad([](FlowConfig& c) { c.dtype = "float16"; });
    bad([](FlowConfig& c) { c.numEmbeddings = 2; c.particleTypes = {0, 1, 2, 0}; });   // type out of range
    bad([](FlowConfig& c) { c.numEmbeddings = 2; c.particleTypes = {0, 1}; });         // wrong length
    EXPECT_THROW(FlowConfig::fromJson(R"({"numAugmented": 2})"), std::invalid_argument);
    // A pair in 3-D has no frame: only the vector projection is allowed there.
    EXPECT_THROW(FlowConfig::fromJson(R"({"numParticles": 2, "dimension": 3, "projection": "spherical"})").validate(), std::invalid_argument);
    EXPECT_THROW(FlowConfig::fromJson(R"({"numParticles": 2, "dimension": 3, "projection": "cartesian", "innerTransform": "affine"})").validate(),
                 std::invalid_argument);
    EXPECT_NO_THROW(FlowConfig::fromJson(R"({"numParticles": 2, "dimension": 3, "projection": "vector"})").validate());
    EXPECT_NO_THROW(FlowConfig::fromJson(R"({"numParticles": 2, "dimension": 2, "projection": "spherical"})").validate());
    EXPECT_THROW(FlowConfig::fromJson(R"({"unknownKey": 1})"), std::invalid_argument);
    EXPECT_THROW(FlowConfig::fromJson(R"({"projection": "polar"})"), std::invalid_argument);
    EXPECT_THROW(FlowConfig::fromJson("not json"), std::invalid_argument);
    try {
        FlowConfig::fromJson(R"({"numAugmented": 4})");
    }
    catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("numAugmented"), std::string::npos) << e.what();
    }
}

TEST(FlowConfig, DuplicateKeysAreRejected) {
    // The JSON parser alone would keep the last value silently.
    const char* cases[][2] = {
        {R"({"numParticles": 4, "dimension": 3, "numParticles": 5})", "FlowConfig: duplicate key 'numParticles' in the JSON text"},
        {R"({"dtype": "float32", "dtype": "float64"})", "duplicate key 'dtype'"},
        {R"({"headWidths": [8], "numBlocks": 2, "headWidths": [16]})", "duplicate key 'headWidths'"},
        // Escapes spell the same key.
        {R"({"dimension": 2, "d\u0069mension": 3})", "duplicate key 'dimension'"},
    };
    for (const auto& c : cases) {
        try {
            FlowConfig::fromJson(c[0]);
            ADD_FAILURE() << "accepted " << c[0];
        }
        catch (const std::invalid_argument& e) {
            EXPECT_NE(std::string(e.what()).find(c[1]), std::string::npos) << e.what();
        }
    }
    EXPECT_EQ(FlowConfig::fromJson(R"({"numParticles": 5, "dimension": 3})").numParticles, 5);
}
