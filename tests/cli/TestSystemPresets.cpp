// The presets of `openmm-bg train`, read from the problem files (data/problems/*.json): the paper's
// configurations (model-spec 14) per problem and method, and unknown methods refused.

#include "SystemPresets.h"
#include "bg/FabMethod.h"
#include "bg/Ramachandran.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <stdexcept>

using namespace BoltzmannPlugin;
using namespace BoltzmannPlugin::cli;

namespace {

SystemPreset preset(const std::string& system, const std::string& method) {
    return systemPreset(referenceProblem(system), method);
}

int numIntermediate(const bg::TrainingConfig& training) {
    return bg::FabSettings::fromJson(training.fab).ais.numIntermediate;
}

} // namespace

TEST(SystemPresets, SharedEacfDefaults) {
    for (const std::string system : {"dw4", "lj13"})
        for (const std::string method : {"ml", "fab"}) {
            const SystemPreset p = preset(system, method);
            EXPECT_EQ(p.flow.projection, bg::Projection::Spherical);
            EXPECT_EQ(p.flow.innerTransform, bg::InnerTransform::Spline);
            EXPECT_EQ(p.flow.numBlocks, 12);
            EXPECT_EQ(p.flow.egnnLayers, 3);
            EXPECT_EQ(p.flow.egnnWidth, 64);
            EXPECT_EQ(p.flow.invariantFeatures, 128);
            EXPECT_EQ(p.flow.headWidths, (std::vector<int>{64, 64}));
            EXPECT_EQ(p.flow.eta, 0.1);
            EXPECT_EQ(p.training.method, method);
            EXPECT_EQ(p.training.schedule.peakLr, 2e-4);
        }
}

TEST(SystemPresets, PerProblemAndMethod) {
    const SystemPreset dw4ml = preset("dw4", "ml"), dw4fab = preset("dw4", "fab");
    EXPECT_EQ(dw4ml.flow.numParticles, 4);
    EXPECT_EQ(dw4ml.flow.dimension, 2);
    EXPECT_EQ(dw4ml.flow.auxLossWeight, 0.0);
    EXPECT_EQ(dw4ml.training.batchSize, 32);
    EXPECT_EQ(dw4ml.training.epochs, 100);
    EXPECT_EQ(dw4ml.training.fab, "{}");
    EXPECT_EQ(dw4fab.training.batchSize, 128);
    EXPECT_EQ(dw4fab.training.epochs, 20000);
    EXPECT_EQ(numIntermediate(dw4fab.training), 2);
    // Written in full, less the batch size, which is the run's batchSize.
    EXPECT_EQ(dw4fab.training.fab, [] {
        bg::FabSettings f;
        f.ais.numIntermediate = 2;
        nlohmann::ordered_json j = nlohmann::ordered_json::parse(f.toJson());
        j.erase("batchSize");
        return j.dump(2);
    }());

    const SystemPreset lj13ml = preset("lj13", "ml"), lj13fab = preset("lj13", "fab");
    EXPECT_EQ(lj13ml.flow.numParticles, 13);
    EXPECT_EQ(lj13ml.flow.dimension, 3);
    EXPECT_EQ(lj13ml.flow.auxLossWeight, 10.0);
    EXPECT_EQ(lj13ml.training.batchSize, 32);
    EXPECT_EQ(lj13ml.training.epochs, 400);
    EXPECT_EQ(lj13fab.flow.auxLossWeight, 1.0);
    EXPECT_EQ(lj13fab.training.batchSize, 1024);
    EXPECT_EQ(lj13fab.training.epochs, 14000);
    EXPECT_EQ(numIntermediate(lj13fab.training), 8);

    for (const std::string method : {"ml", "fab"}) {
        const SystemPreset aldp = preset("aldp", method);
        EXPECT_EQ(aldp.flow.numParticles, 22);
        EXPECT_TRUE(aldp.flow.scalingBlock);
        EXPECT_EQ(aldp.flow.numEmbeddings, 22);
        EXPECT_EQ(aldp.flow.embeddingDim, 32);
        EXPECT_EQ(aldp.flow.eta, 0.5);
        EXPECT_EQ(aldp.flow.auxLossWeight, 1.0);
        EXPECT_EQ(aldp.flow.dtype, "float64");
        EXPECT_EQ(aldp.training.ignoreFactor, 20.0);
        EXPECT_EQ(aldp.training.marginalDraws, 1);
    }
    // ML: the paper's flow and schedule (model-spec 14).
    const SystemPreset aldpMl = preset("aldp", "ml");
    EXPECT_EQ(aldpMl.flow.numBlocks, 20);
    EXPECT_EQ(aldpMl.flow.egnnWidth, 128);
    EXPECT_EQ(aldpMl.training.schedule.initialLr, 0.0);
    EXPECT_EQ(aldpMl.training.schedule.peakLr, 1e-4);
    EXPECT_EQ(aldpMl.training.schedule.endLr, 0.0);
    EXPECT_EQ(aldpMl.training.schedule.warmupEpochs, 1.0);
    EXPECT_EQ(aldpMl.training.batchSize, 20);
    EXPECT_EQ(aldpMl.training.epochs, 50);
    // FAB: model-spec 15.2 scaled for a 2-core CPU, with an initial HMC step at the scale of a bond.
    const SystemPreset aldpFab = preset("aldp", "fab");
    EXPECT_EQ(aldpFab.flow.numBlocks, 6);
    EXPECT_EQ(aldpFab.flow.egnnWidth, 32);
    EXPECT_EQ(aldpFab.training.schedule.peakLr, 5e-4);
    EXPECT_EQ(aldpFab.training.batchSize, 32);
    EXPECT_EQ(aldpFab.training.epochs, 20000);
    const bg::FabSettings fab = bg::FabSettings::fromJson(aldpFab.training.fab);
    EXPECT_EQ(fab.ais.numIntermediate, 4);
    EXPECT_EQ(fab.ais.leapfrogSteps, 4);
    EXPECT_EQ(fab.ais.initialStepSize, 0.001);
    EXPECT_EQ(fab.energyRegularisation.linearUntil, 1e8);
    EXPECT_EQ(fab.energyRegularisation.cap, 1e20);
    EXPECT_EQ(fab.bufferMinBatches, 16);
    // The L-form filter: the improper N-CA-C-CB that bg::isLAlanine reads as negative for L-alanine.
    using namespace bg::AlanineDipeptideAtoms;
    EXPECT_EQ(fab.chiralCentres, (std::vector<bg::ChiralCentre>{{N, CA, C, CB}}));
}

TEST(SystemPresets, EcnfFlowMatching) {
    // The paper's E-CNF FM for DW4 and LJ13 (ecnf-spec 1.2, 5): 3 EGCL of width 128, F 64, the time
    // embedding, prior, sigma_min and Dormand-Prince tolerances of CnfConfig's defaults, but the time
    // scale 10 instead of the spec's 1000 (docs/ecnf.md "The time scale"); Adam at 1e-4
    // with 10 warm-up steps (15 steps per epoch) and a cosine decay to 0, B 64, 200 / 400 epochs.
    for (const std::string system : {"dw4", "lj13"}) {
        const SystemPreset p = preset(system, "fm");
        bg::CnfConfig paper;
        paper.numParticles = system == "dw4" ? 4 : 13;
        paper.dimension = system == "dw4" ? 2 : 3;
        paper.egnnWidth = 128;
        paper.invariantFeatures = 64;
        paper.timeScale = 10.0;
        EXPECT_EQ(p.model, "ecnf");
        EXPECT_EQ(p.modelJson(), paper.toJson());
        bg::ScheduleConfig schedule = p.training.schedule;
        EXPECT_EQ(std::vector<double>({schedule.initialLr, schedule.peakLr, schedule.endLr}), std::vector<double>({1e-4, 1e-4, 0.0}));
        EXPECT_EQ(std::llround(schedule.warmupEpochs * 15), 10);
        EXPECT_EQ(std::vector<int64_t>({p.training.batchSize, p.training.epochs}), std::vector<int64_t>({64, system == "dw4" ? 200 : 400}));
        EXPECT_EQ(p.training.method, "fm");
    }
    // ALDP: a small E-CNF with atom embeddings and the Hutchinson divergence; the shared E-ACF flow
    // settings of the problem (20 blocks, width 128, float64) do not apply, the shared training ones do.
    const SystemPreset aldp = preset("aldp", "fm");
    bg::CnfConfig small = bg::CnfConfig::fromJson(R"({"numParticles": 22, "dimension": 3, "egnnWidth": 64, "invariantFeatures": 32,
        "numEmbeddings": 22, "embeddingDim": 16, "baseScale": 0.2, "divergence": "hutchinson", "timeScale": 10.0})");
    EXPECT_EQ(aldp.modelJson(), small.toJson());
    EXPECT_EQ(std::vector<double>({double(aldp.training.epochs), double(aldp.training.evalTestSamples), aldp.training.ignoreFactor}),
              std::vector<double>({20, 120, 20.0}));
    EXPECT_EQ(preset("dw4", "fab").model, "eacf");
}

TEST(SystemPresets, UnknownMethodsAreRefused) {
    try {
        preset("dw4", "sgd");
        FAIL() << "no exception";
    }
    catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("unknown training method 'sgd' for dw4 (fab | fm | ml)"), std::string::npos) << e.what();
    }
}
