// TrainingConfig: JSON round trip, unknown keys, validation messages that name the field.

#include "bg/TrainingConfig.h"

#include <gtest/gtest.h>

#include <string>

using namespace bg;

TEST(TrainingConfig, JsonRoundTripKeepsEveryField) {
    TrainingConfig c;
    c.method = "fab";
    c.batchSize = 64;
    c.epochs = 7;
    c.schedule = {1e-6, 3e-4, 1e-7, 2.5};
    c.clipFactor = 3;
    c.ignoreFactor = 20;
    c.gradNormWindow = 50;
    c.maskLogProbBelow = -500;
    c.maxRowsPerPass = 8;
    c.evalEvery = 11;
    c.evalFlowSamples = 123;
    c.evalTestSamples = 45;
    c.evalBatchSize = 67;
    c.marginalDraws = 3;
    c.evalWeightDraws = 4;
    c.checkpointEvery = 9;
    c.logEvery = 2;
    c.seed = 12345678901ULL;
    c.numThreads = 2;
    c.device = "cuda:1";
    c.fab = R"({"weightClip":5.0,"ais":{"leapfrogSteps":5}})";
    TrainingConfig d = TrainingConfig::fromJson(c.toJson());
    EXPECT_EQ(d.toJson(), c.toJson());
    EXPECT_EQ(d.method, "fab");
    EXPECT_EQ(d.batchSize, 64);
    EXPECT_EQ(d.schedule.warmupEpochs, 2.5);
    EXPECT_EQ(d.seed, 12345678901ULL);
    EXPECT_EQ(d.device, "cuda:1");
    EXPECT_NE(d.fab.find("leapfrogSteps"), std::string::npos);
}

TEST(TrainingConfig, MissingKeysKeepDefaults) {
    TrainingConfig d = TrainingConfig::fromJson(R"({"batchSize": 16, "schedule": {"peakLr": 1e-3}})");
    EXPECT_EQ(d.batchSize, 16);
    EXPECT_EQ(d.schedule.peakLr, 1e-3);
    EXPECT_EQ(d.schedule.initialLr, TrainingConfig().schedule.initialLr);
    EXPECT_EQ(d.epochs, TrainingConfig().epochs);
    EXPECT_EQ(d.fab, "{}");
}

static void expectFailure(const std::string& json, const std::string& fragment) {
    try {
        TrainingConfig::fromJson(json);
        ADD_FAILURE() << "accepted " << json;
    }
    catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
}

TEST(TrainingConfig, UnknownKeysAreRejected) {
    expectFailure(R"({"batchsize": 16})", "unknown key 'batchsize'");
    expectFailure(R"({"schedule": {"peak": 1}})", "unknown key 'schedule.peak'");
}

TEST(TrainingConfig, ValidationNamesTheField) {
    expectFailure(R"({"method": "sgd"})", "method");
    expectFailure(R"({"batchSize": 0})", "batchSize");
    expectFailure(R"({"epochs": -1})", "epochs");
    expectFailure(R"({"schedule": {"peakLr": 0}})", "schedule.peakLr");
    expectFailure(R"({"maxRowsPerPass": -2})", "maxRowsPerPass");
    expectFailure(R"({"marginalDraws": 0})", "marginalDraws");
    expectFailure(R"({"evalWeightDraws": 0})", "evalWeightDraws");
    expectFailure(R"({"logEvery": 0})", "logEvery");
    expectFailure(R"({"fab": 3})", "fab");
    expectFailure(R"({"device": "tpu"})", "device");
    expectFailure(R"({"batchSize": "many"})", "batchSize");
    expectFailure("[1, 2]", "object");
    expectFailure("{not json", "invalid JSON");
    TrainingConfig ok;
    EXPECT_NO_THROW(ok.validate());
}

TEST(TrainingConfig, UnusableFabSettingsAreRefusedUpFront) {
    // Refused by validate() (so by BoltzmannGeneratorForce::setTrainingSettings), not at the first FAB iteration.
    expectFailure(R"({"fab": {"bufferMinBatchez": 4}})", "unknown key bufferMinBatchez");
    expectFailure(R"({"fab": {"bufferMinBatches": 4}})", "bufferMinBatches must be at least updatesPerIteration");
    expectFailure(R"({"fab": {"ais": {"hmcSteps": 0}}})", "hmcSteps and leapfrogSteps must be at least 1");
}

TEST(TrainingConfig, FlowMatchingMethodAndSettings) {
    TrainingConfig c = TrainingConfig::fromJson(R"({"method": "fm", "fm": {"pairing": "independent"}})");
    EXPECT_EQ(c.method, "fm");
    EXPECT_EQ(TrainingConfig::fromJson(c.toJson()).fm, c.fm);
    EXPECT_NE(c.fm.find("independent"), std::string::npos);
    expectFailure(R"({"fm": {"pairing": "sinkhorn"}})", "unknown pairing 'sinkhorn'");
    expectFailure(R"({"fm": [1]})", "fm must be a JSON object");
    expectFailure(R"({"method": "sgd"})", "method must be 'ml', 'fab' or 'fm'");
}

TEST(TrainingConfig, FabBatchSizeIsTheRunsBatchSize) {
    // FAB draws batchSize AIS samples per iteration; a fab.batchSize that says otherwise is refused
    // rather than overridden without a word (the same value, as older run files hold, is accepted).
    expectFailure(R"({"method": "fab", "batchSize": 128, "fab": {"batchSize": 512}})",
                  "fab.batchSize (512) differs from batchSize (128)");
    EXPECT_EQ(TrainingConfig::fromJson(R"({"method": "fab", "batchSize": 512, "fab": {"batchSize": 512}})").batchSize, 512);
    TrainingConfig c;
    c.batchSize = 64;
    c.fab = R"({"batchSize": 32})";
    EXPECT_THROW(c.validate(), std::invalid_argument);
}

TEST(TrainingConfig, DuplicateKeysAreRejectedAtEveryLevel) {
    // The JSON parser alone would keep the last value silently.
    expectFailure(R"({"batchSize": 16, "epochs": 3, "batchSize": 32})", "TrainingConfig: duplicate key 'batchSize' in the JSON text");
    expectFailure(R"({"schedule": {"peakLr": 1e-3, "endLr": 1e-5, "peakLr": 1e-2}})", "duplicate key 'peakLr'");
    expectFailure(R"({"fab": {"ais": {"hmcSteps": 2, "hmcSteps": 3}}})", "duplicate key 'hmcSteps'");
    // The same key in different objects is fine.
    TrainingConfig c = TrainingConfig::fromJson(R"({"batchSize": 16, "fab": {"batchSize": 16, "ais": {"hmcSteps": 2}}})");
    EXPECT_EQ(c.batchSize, 16);
    expectFailure(R"({"fab": {"list": [{"a": 1, "a": 2}]}})", "duplicate key 'a'");
    // A fab text set directly is checked by validate().
    TrainingConfig d;
    d.fab = R"({"batchSize": 8, "batchSize": 9})";
    try {
        d.validate();
        FAIL() << "expected std::invalid_argument";
    }
    catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("duplicate key 'batchSize'"), std::string::npos) << e.what();
    }
}
