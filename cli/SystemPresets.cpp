#include "SystemPresets.h"

#include "bg/FabMethod.h"

#include <stdexcept>

namespace BoltzmannPlugin {
namespace cli {

namespace {

// FAB defaults of model-spec 14 (buffer 512/64 batches, 8 updates per AIS pass, clip 10, HMC 1 x 5
// leapfrog steps from step size 1.0 adapted towards acceptance 0.65) with the system's AIS length.
std::string fabSettingsJson(int numIntermediate) {
    bg::FabSettings fab;
    fab.ais.numIntermediate = numIntermediate;
    return fab.toJson();
}

} // namespace

std::vector<std::string> presetSystemNames() {
    return {"dw4", "lj13", "aldp"};
}

SystemPreset systemPreset(const std::string& system, const std::string& method) {
    if (method != "ml" && method != "fab")
        throw std::invalid_argument("unknown training method '" + method + "' (ml | fab)");
    SystemPreset p;
    p.system = system;
    bg::FlowConfig& f = p.flow;
    bg::TrainingConfig& t = p.training;
    t.method = method;
    // Shared E-ACF defaults: spherical projection with 8-bin splines, 3 EGNN layers of width 64,
    // F = 128, heads [64, 64], eta 0.1; schedule 2e-5 / 2e-4 / 2e-5 with 30 warm-up epochs.
    f.projection = bg::Projection::Spherical;
    f.innerTransform = bg::InnerTransform::Spline;
    f.numBlocks = 12;
    f.egnnLayers = 3;
    f.egnnWidth = 64;
    f.invariantFeatures = 128;
    f.headWidths = {64, 64};
    f.eta = 0.1;
    if (system == "dw4") {
        f.numParticles = 4;
        f.dimension = 2;
        f.auxLossWeight = 0.0;
        t.batchSize = method == "ml" ? 32 : 128;
        t.epochs = method == "ml" ? 100 : 20000;
        if (method == "fab")
            t.fab = fabSettingsJson(2);
    }
    else if (system == "lj13") {
        f.numParticles = 13;
        f.dimension = 3;
        f.auxLossWeight = method == "ml" ? 10.0 : 1.0;
        t.batchSize = method == "ml" ? 32 : 1024;
        t.epochs = method == "ml" ? 400 : 14000;
        if (method == "fab")
            t.fab = fabSettingsJson(8);
    }
    else if (system == "aldp") {
        f.numParticles = 22;
        f.dimension = 3;
        f.numBlocks = 20;
        f.egnnWidth = 128;
        f.numEmbeddings = 22;
        f.embeddingDim = 32;
        f.eta = 0.5;
        f.auxLossWeight = 1.0;
        f.dtype = "float64";
        t.batchSize = 20;
        t.epochs = 50;
        t.schedule.initialLr = 0.0;
        t.schedule.peakLr = 1e-4;
        t.schedule.endLr = 0.0;
        t.schedule.warmupEpochs = 1;
        t.ignoreFactor = 20.0;
        t.marginalDraws = 1;
        if (method == "fab") {
            // Not a configuration of the paper (which trains ALDP by maximum likelihood): FAB with
            // 8 intermediate distributions and batch 128, as for LJ13 on one device.
            t.batchSize = 128;
            t.epochs = 20000;
            t.fab = fabSettingsJson(8);
        }
    }
    else
        throw std::invalid_argument("unknown system '" + system + "' (dw4 | lj13 | aldp)");
    f.validate();
    t.validate();
    return p;
}

} // namespace cli
} // namespace BoltzmannPlugin
