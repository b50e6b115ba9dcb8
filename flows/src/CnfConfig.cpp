#include "bg/CnfConfig.h"

#include "JsonObject.h"
#include "ModelConfigFields.h"

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

namespace bg {

using nlohmann::json;

static void fail(const std::string& message) {
    throw std::invalid_argument("CnfConfig: " + message);
}

const char* toString(OdeMethod method) {
    return method == OdeMethod::Rk4 ? "rk4" : "dopri5";
}

const char* toString(DivergenceMethod method) {
    return method == DivergenceMethod::Hutchinson ? "hutchinson" : "exact";
}

void CnfConfig::validate() const {
    if (numParticles < 2)
        fail("numParticles must be at least 2, got " + std::to_string(numParticles));
    if (dimension != 2 && dimension != 3)
        fail("dimension must be 2 or 3, got " + std::to_string(dimension));
    if (egnnLayers < 1 || egnnWidth < 1 || invariantFeatures < 1)
        fail("egnnLayers, egnnWidth and invariantFeatures must be positive");
    if (timeEmbeddingDim < 4 || timeEmbeddingDim % 2 != 0)
        fail("timeEmbeddingDim must be even and at least 4, got " + std::to_string(timeEmbeddingDim));
    if (!(timeScale > 0))
        fail("timeScale must be positive");
    if (numEmbeddings < 0 || embeddingDim < 1)
        fail("numEmbeddings must not be negative and embeddingDim must be positive");
    if (particleTypes.empty() && numEmbeddings > 0 && numEmbeddings < numParticles)
        fail("numEmbeddings must be at least numParticles when particles are embedded by index");
    if (!particleTypes.empty()) {
        if ((int) particleTypes.size() != numParticles || numEmbeddings == 0)
            fail("particleTypes needs one entry per particle and an embedding table (numEmbeddings > 0)");
        for (int t : particleTypes)
            if (t < 0 || t >= numEmbeddings)
                fail("particleTypes entries must lie in [0, numEmbeddings)");
    }
    if (!(baseScale > 0))
        fail("baseScale must be positive");
    if (!(sigmaMin >= 0 && sigmaMin < 1))
        fail("sigmaMin must lie in [0, 1)");
    if (!(rtol > 0) || !(atol > 0))
        fail("rtol and atol must be positive");
    if (maxSteps < 1 || rk4Steps < 1)
        fail("maxSteps and rk4Steps must be positive");
    if (dtype != "float32" && dtype != "float64")
        fail("dtype must be float32 or float64, got '" + dtype + "'");
}

std::string CnfConfig::toJson() const {
    json j = {{"model", "ecnf"},
              {"numParticles", numParticles},
              {"dimension", dimension},
              {"egnnLayers", egnnLayers},
              {"egnnWidth", egnnWidth},
              {"invariantFeatures", invariantFeatures},
              {"timeEmbeddingDim", timeEmbeddingDim},
              {"timeScale", timeScale},
              {"numEmbeddings", numEmbeddings},
              {"embeddingDim", embeddingDim},
              {"particleTypes", particleTypes},
              {"baseScale", baseScale},
              {"sigmaMin", sigmaMin},
              {"solver", toString(solver)},
              {"rtol", rtol},
              {"atol", atol},
              {"maxSteps", maxSteps},
              {"rk4Steps", rk4Steps},
              {"divergence", toString(divergence)},
              {"dtype", dtype}};
    return j.dump(2);
}

static void readEnums(const json& j, CnfConfig& c) {
    if (j.contains("model") && j.at("model").get<std::string>() != "ecnf")
        fail("model must be 'ecnf', got '" + j.at("model").get<std::string>() + "'");
    if (j.contains("solver")) {
        std::string s = j.at("solver").get<std::string>();
        if (s != "dopri5" && s != "rk4")
            fail("unknown solver '" + s + "' (dopri5 | rk4)");
        c.solver = s == "rk4" ? OdeMethod::Rk4 : OdeMethod::Dopri5;
    }
    if (j.contains("divergence")) {
        std::string s = j.at("divergence").get<std::string>();
        if (s != "exact" && s != "hutchinson")
            fail("unknown divergence '" + s + "' (exact | hutchinson)");
        c.divergence = s == "hutchinson" ? DivergenceMethod::Hutchinson : DivergenceMethod::Exact;
    }
}

CnfConfig CnfConfig::fromJson(const std::string& text) {
    json j = parseJsonObject(text, "CnfConfig");
    rejectUnknownKeys(j,
                      {"model", "numParticles", "dimension", "egnnLayers", "egnnWidth", "invariantFeatures", "timeEmbeddingDim",
                       "timeScale", "numEmbeddings", "embeddingDim", "particleTypes", "baseScale", "sigmaMin", "solver", "rtol", "atol",
                       "maxSteps", "rk4Steps", "divergence", "dtype"},
                      "CnfConfig");
    CnfConfig c;
    readJsonValues("CnfConfig", [&] {
        readEnums(j, c);
        readSharedModelFields(j, c);
        readOptional(j, "timeEmbeddingDim", c.timeEmbeddingDim);
        readOptional(j, "timeScale", c.timeScale);
        readOptional(j, "baseScale", c.baseScale);
        readOptional(j, "sigmaMin", c.sigmaMin);
        readOptional(j, "rtol", c.rtol);
        readOptional(j, "atol", c.atol);
        readOptional(j, "maxSteps", c.maxSteps);
        readOptional(j, "rk4Steps", c.rk4Steps);
    });
    c.validate();
    return c;
}

} // namespace bg
