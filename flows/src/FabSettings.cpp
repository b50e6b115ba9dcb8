// FabSettings: validation and JSON (de)serialisation of the FAB settings (model-spec 11, 14).
#include "bg/FabMethod.h"

#include "JsonObject.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace bg {

namespace {

void requirePositive(int64_t value, const char* field) {
    if (value <= 0)
        throw std::invalid_argument(std::string("FabSettings: ") + field + " must be positive");
}

/** A regularisation threshold as JSON: the number, or null for none (infinity). */
nlohmann::ordered_json thresholdJson(double value) {
    return std::isinf(value) ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(value);
}

/** Parse "energyRegularisation": {"linearUntil": number | null, "cap": number | null}. */
EnergyRegularisation regularisationFromJson(const nlohmann::json& object) {
    if (!object.is_object())
        throw std::invalid_argument("FabSettings: energyRegularisation must be an object");
    EnergyRegularisation r;
    for (auto& [key, value] : object.items()) {
        double* field = key == "linearUntil" ? &r.linearUntil : key == "cap" ? &r.cap : nullptr;
        if (field == nullptr)
            throw std::invalid_argument("FabSettings: unknown key energyRegularisation." + key);
        if (value.is_null())
            continue;
        if (!value.is_number())
            throw std::invalid_argument("FabSettings: energyRegularisation." + key + " must be a number or null");
        *field = value.get<double>();
    }
    return r;
}

/** Parse "chiralCentres": [[a, b, c, d], ...], four integer particle indices each. */
std::vector<ChiralCentre> chiralCentresFromJson(const nlohmann::json& array) {
    const std::string shape = "FabSettings: chiralCentres must be a list of [a, b, c, d] lists of four integer particle indices";
    if (!array.is_array())
        throw std::invalid_argument(shape);
    std::vector<ChiralCentre> centres;
    for (const nlohmann::json& entry : array) {
        if (!entry.is_array() || entry.size() != 4)
            throw std::invalid_argument(shape + ", got " + entry.dump());
        ChiralCentre c{};
        for (size_t k = 0; k < 4; k++) {
            if (!entry[k].is_number_integer() || entry[k].get<int64_t>() > std::numeric_limits<int>::max() ||
                entry[k].get<int64_t>() < std::numeric_limits<int>::min())
                throw std::invalid_argument(shape + ", got " + entry.dump());
            c[k] = entry[k].get<int>();
        }
        centres.push_back(c);
    }
    return centres;
}

} // namespace

// ----------------------------------------------------------------------------------------------
// Settings

void FabSettings::validate() const {
    requirePositive(batchSize, "batchSize");
    requirePositive(updatesPerIteration, "updatesPerIteration");
    requirePositive(bufferMaxBatches, "bufferMaxBatches");
    requirePositive(bufferMinBatches, "bufferMinBatches");
    if (bufferMinBatches > bufferMaxBatches)
        throw std::invalid_argument("FabSettings: bufferMinBatches must not exceed bufferMaxBatches");
    if (bufferMinBatches < updatesPerIteration)
        throw std::invalid_argument("FabSettings: bufferMinBatches must be at least updatesPerIteration (the buffer is sampled without replacement)");
    if (!(weightClip > 0.0))
        throw std::invalid_argument("FabSettings: weightClip must be positive");
    requirePositive(evalAisSamples, "evalAisSamples");
    requirePositive(evalAisBatch, "evalAisBatch");
    if (maxRowsPerPass < 0 || maxEvaluationBatch < 0)
        throw std::invalid_argument("FabSettings: maxRowsPerPass and maxEvaluationBatch must not be negative");
    ais.validate();
    if (std::isnan(energyRegularisation.linearUntil) || std::isnan(energyRegularisation.cap))
        throw std::invalid_argument("FabSettings: energyRegularisation thresholds must not be NaN");
    checkChiralCentres(chiralCentres, std::numeric_limits<int>::max(), 3, "FabSettings");   // the particle count is checked by FabMethod
}

std::string FabSettings::toJson() const {
    nlohmann::ordered_json j;
    j["batchSize"] = batchSize;
    j["updatesPerIteration"] = updatesPerIteration;
    j["bufferMaxBatches"] = bufferMaxBatches;
    j["bufferMinBatches"] = bufferMinBatches;
    j["weightClip"] = weightClip;
    j["evalAisSamples"] = evalAisSamples;
    j["evalAisBatch"] = evalAisBatch;
    j["maxRowsPerPass"] = maxRowsPerPass;
    j["maxEvaluationBatch"] = maxEvaluationBatch;
    j["concurrentAis"] = concurrentAis;
    nlohmann::ordered_json a;
    a["numIntermediate"] = ais.numIntermediate;
    a["hmcSteps"] = ais.hmcSteps;
    a["leapfrogSteps"] = ais.leapfrogSteps;
    a["initialStepSize"] = ais.initialStepSize;
    a["targetAcceptance"] = ais.targetAcceptance;
    a["adaptationFactor"] = ais.adaptationFactor;
    a["adaptStepSizes"] = ais.adaptStepSizes;
    a["tuneInitialStepSizes"] = ais.tuneInitialStepSizes;
    a["tuningRows"] = ais.tuningRows;
    j["ais"] = a;
    j["energyRegularisation"] = {{"linearUntil", thresholdJson(energyRegularisation.linearUntil)},
                                 {"cap", thresholdJson(energyRegularisation.cap)}};
    j["chiralCentres"] = chiralCentres;
    return j.dump(2);
}

FabSettings FabSettings::fromJson(const std::string& text) {
    nlohmann::json j = parseJsonObject(text, "FabSettings");
    FabSettings s;
    auto take = [](const nlohmann::json& object, const std::string& key, auto& value, const std::string& where) {
        try {
            value = object.at(key).get<std::decay_t<decltype(value)>>();
        } catch (const nlohmann::json::exception&) {
            throw std::invalid_argument("FabSettings: " + where + key + " has the wrong type");
        }
    };
    for (auto& [key, value] : j.items()) {
        if (key == "batchSize") take(j, key, s.batchSize, "");
        else if (key == "updatesPerIteration") take(j, key, s.updatesPerIteration, "");
        else if (key == "bufferMaxBatches") take(j, key, s.bufferMaxBatches, "");
        else if (key == "bufferMinBatches") take(j, key, s.bufferMinBatches, "");
        else if (key == "weightClip") take(j, key, s.weightClip, "");
        else if (key == "evalAisSamples") take(j, key, s.evalAisSamples, "");
        else if (key == "evalAisBatch") take(j, key, s.evalAisBatch, "");
        else if (key == "maxRowsPerPass") take(j, key, s.maxRowsPerPass, "");
        else if (key == "maxEvaluationBatch") take(j, key, s.maxEvaluationBatch, "");
        else if (key == "concurrentAis") take(j, key, s.concurrentAis, "");
        else if (key == "energyRegularisation") s.energyRegularisation = regularisationFromJson(value);
        else if (key == "chiralCentres") s.chiralCentres = chiralCentresFromJson(value);
        else if (key == "ais") {
            if (!value.is_object())
                throw std::invalid_argument("FabSettings: ais must be an object");
            for (auto& [k, v] : value.items()) {
                (void) v;
                if (k == "numIntermediate") take(value, k, s.ais.numIntermediate, "ais.");
                else if (k == "hmcSteps") take(value, k, s.ais.hmcSteps, "ais.");
                else if (k == "leapfrogSteps") take(value, k, s.ais.leapfrogSteps, "ais.");
                else if (k == "initialStepSize") take(value, k, s.ais.initialStepSize, "ais.");
                else if (k == "targetAcceptance") take(value, k, s.ais.targetAcceptance, "ais.");
                else if (k == "adaptationFactor") take(value, k, s.ais.adaptationFactor, "ais.");
                else if (k == "adaptStepSizes") take(value, k, s.ais.adaptStepSizes, "ais.");
                else if (k == "tuneInitialStepSizes") take(value, k, s.ais.tuneInitialStepSizes, "ais.");
                else if (k == "tuningRows") take(value, k, s.ais.tuningRows, "ais.");
                else throw std::invalid_argument("FabSettings: unknown key ais." + k);
            }
        } else
            throw std::invalid_argument("FabSettings: unknown key " + key);
    }
    s.validate();
    return s;
}

} // namespace bg
