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

static constexpr EnumNames<OdeMethod, 2> solverNames = {"CnfConfig", "solver", {{OdeMethod::Dopri5, "dopri5"}, {OdeMethod::Rk4, "rk4"}}};

static constexpr EnumNames<DivergenceMethod, 2> divergenceNames = {
        "CnfConfig", "divergence", {{DivergenceMethod::Exact, "exact"}, {DivergenceMethod::Hutchinson, "hutchinson"}}};

/**
 * The JSON fields of a CnfConfig besides "model", listed once for toJson() and fromJson()
 * (JsonObject.h): visit(key, member) for each, with the name table for an enum, in the order
 * fromJson() reads them.
 */
static const auto cnfFields = [](auto& c, auto&& visit) {
    visit("solver", c.solver, solverNames);
    visit("divergence", c.divergence, divergenceNames);
    visitSharedModelFields(c, visit);
    visit("timeEmbeddingDim", c.timeEmbeddingDim);
    visit("timeScale", c.timeScale);
    visit("baseScale", c.baseScale);
    visit("sigmaMin", c.sigmaMin);
    visit("rtol", c.rtol);
    visit("atol", c.atol);
    visit("maxSteps", c.maxSteps);
    visit("rk4Steps", c.rk4Steps);
};

/** The key beside the field list: "model", the model kind, which must be "ecnf" where present. */
static void checkModelKind(const json& j) {
    if (j.contains("model") && j.at("model").get<std::string>() != "ecnf")
        fail("model must be 'ecnf', got '" + j.at("model").get<std::string>() + "'");
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
    json j = fieldsToJson(*this, cnfFields);
    j["model"] = "ecnf";
    return j.dump(2);
}

CnfConfig CnfConfig::fromJson(const std::string& text) {
    return configFromJson<CnfConfig>(text, "CnfConfig", cnfFields, {"model"}, checkModelKind);
}

const char* toString(OdeMethod method) {
    return solverNames.name(method);
}

const char* toString(DivergenceMethod method) {
    return divergenceNames.name(method);
}

} // namespace bg
