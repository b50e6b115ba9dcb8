#include "bg/TrainingConfig.h"
#include "bg/FabMethod.h"
#include "bg/FlowMatchingMethod.h"

#include "JsonObject.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <stdexcept>
#include <utility>

namespace bg {

using nlohmann::json;

static void fail(const std::string& message) {
    throw std::invalid_argument("TrainingConfig: " + message);
}

void TrainingConfig::validate() const {
    if (method != "ml" && method != "fab" && method != "fm")
        fail("method must be 'ml', 'fab' or 'fm', got '" + method + "'");
    if (batchSize < 1)
        fail("batchSize must be positive, got " + std::to_string(batchSize));
    if (epochs < 1)
        fail("epochs must be positive, got " + std::to_string(epochs));
    for (double lr : {schedule.initialLr, schedule.peakLr, schedule.endLr})
        if (!(lr >= 0) || !std::isfinite(lr))
            fail("schedule.initialLr, schedule.peakLr and schedule.endLr must be finite and not negative");
    if (!(schedule.peakLr > 0))
        fail("schedule.peakLr must be positive");
    if (!(schedule.warmupEpochs >= 0) || !std::isfinite(schedule.warmupEpochs))
        fail("schedule.warmupEpochs must be finite and not negative");
    // The remaining bounds, checked in this order: {violated, message}.
    const std::pair<bool, const char*> bounds[] = {
            {!(clipFactor > 0), "clipFactor must be positive"},
            {!(ignoreFactor > 0), "ignoreFactor must be positive"},
            {gradNormWindow < 1, "gradNormWindow must be positive"},
            {std::isnan(maskLogProbBelow), "maskLogProbBelow must not be NaN"},
            {maxRowsPerPass < 0, "maxRowsPerPass must be 0 (whole batch) or positive"},
            {evalEvery < 0, "evalEvery must not be negative"},
            {evalFlowSamples < 0, "evalFlowSamples must not be negative"},
            {evalTestSamples < 0, "evalTestSamples must not be negative (0 = all)"},
            {evalBatchSize < 1, "evalBatchSize must be positive"},
            {marginalDraws < 1, "marginalDraws must be positive"},
            {evalWeightDraws < 1, "evalWeightDraws must be positive"},
            {checkpointEvery < 0, "checkpointEvery must not be negative"},
            {logEvery < 1, "logEvery must be positive"},
            {numThreads < 1, "numThreads must be positive"}};
    for (const auto& [violated, message] : bounds)
        if (violated)
            fail(message);
    if (device != "cpu" && device.rfind("cuda", 0) != 0)
        fail("device must be \"cpu\" or \"cuda\" (optionally \"cuda:<index>\"), got \"" + device + "\"");
    // Malformed JSON, a value that is not an object, or duplicate keys.
    const json fabJson = parseJsonObject(fab, "TrainingConfig: fab");
    // FAB's batch (AIS samples per iteration, rows per update) is batchSize; a different
    // fab.batchSize would otherwise be overridden without a word.
    if (fabJson.contains("batchSize") && fabJson["batchSize"] != json(batchSize))
        fail("fab.batchSize (" + fabJson["batchSize"].dump() + ") differs from batchSize (" + std::to_string(batchSize) +
             "); FAB draws batchSize AIS samples per iteration: set batchSize and leave fab.batchSize out");
    // Unknown keys and unusable values of the FAB settings are refused here, not at the first
    // FAB iteration (with the run's batch size, as createTrainingMethod() uses them).
    FabSettings settings = FabSettings::fromJson(fab);
    settings.batchSize = batchSize;
    settings.validate();
    FlowMatchingSettings::fromJson(fm);   // malformed JSON, unknown keys or bad values of the flow-matching settings
}

std::string TrainingConfig::toJson() const {
    json j = {{"method", method},
              {"batchSize", batchSize},
              {"epochs", epochs},
              {"schedule",
               {{"initialLr", schedule.initialLr}, {"peakLr", schedule.peakLr}, {"endLr", schedule.endLr}, {"warmupEpochs", schedule.warmupEpochs}}},
              {"clipFactor", clipFactor},
              {"ignoreFactor", ignoreFactor},
              {"gradNormWindow", gradNormWindow},
              {"maskLogProbBelow", maskLogProbBelow},
              {"maxRowsPerPass", maxRowsPerPass},
              {"evalEvery", evalEvery},
              {"evalFlowSamples", evalFlowSamples},
              {"evalTestSamples", evalTestSamples},
              {"evalBatchSize", evalBatchSize},
              {"marginalDraws", marginalDraws},
              {"evalWeightDraws", evalWeightDraws},
              {"checkpointEvery", checkpointEvery},
              {"logEvery", logEvery},
              {"seed", seed},
              {"numThreads", numThreads},
              {"device", device},
              {"fab", json::parse(fab)},
              {"fm", json::parse(fm)}};
    return j.dump(2);
}

TrainingConfig TrainingConfig::fromJson(const std::string& text) {
    json j = parseJsonObject(text, "TrainingConfig");
    rejectUnknownKeys(j,
                      {"method", "batchSize", "epochs", "schedule", "clipFactor", "ignoreFactor", "gradNormWindow", "maskLogProbBelow",
                       "maxRowsPerPass", "evalEvery", "evalFlowSamples", "evalTestSamples", "evalBatchSize", "marginalDraws", "evalWeightDraws",
                       "checkpointEvery", "logEvery", "seed", "numThreads", "device", "fab", "fm"},
                      "TrainingConfig");
    TrainingConfig c;
    std::string current;
    try {
        auto get = [&](const json& from, const char* key, auto& field) {
            current = key;
            if (from.contains(key))
                from.at(key).get_to(field);
        };
        get(j, "method", c.method);
        get(j, "batchSize", c.batchSize);
        get(j, "epochs", c.epochs);
        if (j.contains("schedule")) {
            const json& s = j.at("schedule");
            if (!s.is_object())
                fail("schedule must be an object");
            rejectUnknownKeys(s, {"initialLr", "peakLr", "endLr", "warmupEpochs"}, "TrainingConfig", "schedule.");
            get(s, "initialLr", c.schedule.initialLr);
            get(s, "peakLr", c.schedule.peakLr);
            get(s, "endLr", c.schedule.endLr);
            get(s, "warmupEpochs", c.schedule.warmupEpochs);
        }
        get(j, "clipFactor", c.clipFactor);
        get(j, "ignoreFactor", c.ignoreFactor);
        get(j, "gradNormWindow", c.gradNormWindow);
        get(j, "maskLogProbBelow", c.maskLogProbBelow);
        get(j, "maxRowsPerPass", c.maxRowsPerPass);
        get(j, "evalEvery", c.evalEvery);
        get(j, "evalFlowSamples", c.evalFlowSamples);
        get(j, "evalTestSamples", c.evalTestSamples);
        get(j, "evalBatchSize", c.evalBatchSize);
        get(j, "marginalDraws", c.marginalDraws);
        get(j, "evalWeightDraws", c.evalWeightDraws);
        get(j, "checkpointEvery", c.checkpointEvery);
        get(j, "logEvery", c.logEvery);
        get(j, "seed", c.seed);
        get(j, "numThreads", c.numThreads);
        get(j, "device", c.device);
        if (j.contains("fab")) {
            if (!j.at("fab").is_object())
                fail("fab must be a JSON object");
            c.fab = j.at("fab").dump();
        }
        if (j.contains("fm")) {
            if (!j.at("fm").is_object())
                fail("fm must be a JSON object");
            c.fm = j.at("fm").dump();
        }
    }
    catch (const json::exception& e) {
        fail("wrong value type for '" + current + "': " + e.what());
    }
    c.validate();
    return c;
}

} // namespace bg
