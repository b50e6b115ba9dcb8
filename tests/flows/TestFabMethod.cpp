// FAB (model-spec 11): settings, the clipped importance-weighted loss against finite differences,
// robustness to failed energies, and exact resume of an iteration sequence.

#include "bg/FabMethod.h"
#include "bg/Metrics.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <sstream>

using namespace bg;

namespace {

// The 2D double well of four particles in closed form (model-spec 9.1), with autograd forces.
class DoubleWellTarget : public Target {
public:
    int numParticles() const override {
        return 4;
    }
    int dimension() const override {
        return 2;
    }
    EnergyEvaluation evaluate(const torch::Tensor& x, bool computeForces) override {
        torch::Tensor y = x.detach().to(torch::kFloat64).requires_grad_(computeForces);
        torch::Tensor u, forces;
        {
            torch::AutoGradMode grad(computeForces);  // callers (AIS) run under NoGradGuard
            torch::Tensor diff = y.unsqueeze(2) - y.unsqueeze(1);
            torch::Tensor iu = torch::triu_indices(4, 4, 1);
            torch::Tensor d = diff.index({torch::indexing::Slice(), iu[0], iu[1]}).norm(2, -1) - 4.0;
            u = (-4.0 * d.square() + 0.9 * d.pow(4)).sum(1);
            if (computeForces)
                forces = -torch::autograd::grad({u.sum()}, {y})[0];
        }
        EnergyEvaluation e;
        e.valid = torch::isfinite(u.detach());
        e.forces = forces;
        e.energy = torch::where(e.valid, u.detach(), torch::full_like(u.detach(), INFINITY));
        if (computeForces)
            e.forces = torch::where(e.valid.view({-1, 1, 1}), e.forces, torch::zeros_like(e.forces));
        return e;
    }
};

// Fails (NaN energy) on a random third of the configurations it sees.
class FlakyTarget : public DoubleWellTarget {
public:
    EnergyEvaluation evaluate(const torch::Tensor& x, bool computeForces) override {
        torch::Tensor bad = torch::rand({x.size(0)}, generator) < 1.0 / 3.0;
        torch::Tensor y = torch::where(bad.view({-1, 1, 1}), torch::full_like(x, NAN), x);
        return DoubleWellTarget::evaluate(y, computeForces);
    }
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(99);
};

FlowConfig tinyConfig() {
    FlowConfig c;
    c.numParticles = 4;
    c.dimension = 2;
    c.numBlocks = 1;
    c.egnnLayers = 1;
    c.egnnWidth = 16;
    c.invariantFeatures = 16;
    c.headWidths = {16};
    c.radiusMax = 8.0;
    c.dtype = "float64";
    return c;
}

FabSettings tinySettings() {
    FabSettings s;
    s.batchSize = 16;
    s.updatesPerIteration = 2;
    s.bufferMaxBatches = 8;
    s.bufferMinBatches = 2;
    s.evalAisSamples = 64;
    s.evalAisBatch = 32;
    return s;
}

SkipClipAdam makeOptimizer(AugmentedCouplingFlow& flow) {
    return SkipClipAdam(flow->parameters(), WarmupCosineSchedule{1e-4, 1e-3, 1e-4, 2, 100});
}

std::vector<torch::Tensor> snapshot(AugmentedCouplingFlow& flow) {
    std::vector<torch::Tensor> out;
    for (auto& p : flow->parameters())
        out.push_back(p.detach().clone());
    return out;
}

} // namespace

TEST(FabSettings, JsonRoundTripAndValidation) {
    FabSettings s = tinySettings();
    s.ais.numIntermediate = 8;
    s.weightClip = 5.0;
    s.ais.tuneInitialStepSizes = false;
    s.ais.tuningRows = 7;
    FabSettings t = FabSettings::fromJson(s.toJson());
    EXPECT_EQ(t.toJson(), s.toJson());
    EXPECT_EQ(t.ais.numIntermediate, 8);
    EXPECT_FALSE(t.ais.tuneInitialStepSizes);
    EXPECT_EQ(t.ais.tuningRows, 7);
    EXPECT_THROW(FabSettings::fromJson("{\"ais\": {\"tuningRows\": 0}}"), std::invalid_argument);
    EXPECT_THROW(FabSettings::fromJson("{\"batchSize\": 0}"), std::invalid_argument);
    EXPECT_THROW(FabSettings::fromJson("{\"bogus\": 1}"), std::invalid_argument);
    EXPECT_THROW(FabSettings::fromJson("{\"ais\": {\"leapfrog\": 3}}"), std::invalid_argument);
    EXPECT_THROW(FabSettings::fromJson("{\"bufferMinBatches\": 4, \"updatesPerIteration\": 8}"), std::invalid_argument);
}

TEST(FabSettings, ChiralCentresAreFourParticleIndices) {
    FabSettings s = FabSettings::fromJson("{\"chiralCentres\": [[6, 8, 14, 10], [0, 1, 2, 3]]}");
    ASSERT_EQ(s.chiralCentres.size(), 2u);
    EXPECT_EQ(s.chiralCentres[0], (ChiralCentre{6, 8, 14, 10}));
    EXPECT_EQ(FabSettings::fromJson(s.toJson()).chiralCentres, s.chiralCentres);
    EXPECT_TRUE(FabSettings().chiralCentres.empty());
    for (const char* bad : {"[[0, 1, 2]]", "[[0, 1, 2, 3, 4]]", "[[0, 1, 2, 2.5]]", "[[0, 1, 1, 2]]", "[[-1, 0, 1, 2]]", "[0, 1, 2, 3]",
                            "\"N-CA-C-CB\"", "[[0, 1, 2, 4294967296]]"}) {
        EXPECT_THROW(FabSettings::fromJson(std::string("{\"chiralCentres\": ") + bad + "}"), std::invalid_argument) << bad;
    }
}

TEST(FabSettings, DuplicateKeysAreRejected) {
    for (const char* json : {"{\"batchSize\": 8, \"batchSize\": 16}", "{\"ais\": {\"hmcSteps\": 1, \"hmcSteps\": 2}}"}) {
        try {
            FabSettings::fromJson(json);
            ADD_FAILURE() << "accepted " << json;
        }
        catch (const std::invalid_argument& e) {
            EXPECT_NE(std::string(e.what()).find("FabSettings: duplicate key"), std::string::npos) << e.what();
        }
    }
}

TEST(FabLoss, GradientMatchesFiniteDifferences) {
    torch::manual_seed(3);
    FlowConfig config = tinyConfig();
    config.identityInit = false;
    AugmentedCouplingFlow flow(config);
    DoubleWellTarget target;
    FlowTargetDensity density(flow, target);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(4);
    auto [z, logQ] = density.sample(12, gen);
    // log q_old spread around log q so that some ratios exceed the clip and some do not.
    torch::Tensor logQOld = logQ + torch::linspace(-1.0, 4.0, 12, torch::kFloat64);
    const double clip = 10.0;
    FabLossTerms terms = fabLoss(flow, density, z, logQOld, clip, 12.0);
    torch::Tensor w = terms.delta.exp().clamp_max(clip);
    EXPECT_GT((w == clip).sum().item<int64_t>(), 0);
    EXPECT_LT(w.max().item<double>(), clip + 1e-12);
    EXPECT_NEAR(terms.loss.item<double>(), -(w * terms.logQ).sum().item<double>() / 12.0, 1e-12);
    flow->zero_grad();
    terms.loss.backward();
    // The weights are constants of the estimator: d/dtheta of -(1/B) sum_i w_i log q_theta(z_i).
    auto [x, a] = density.unflatten(z);
    auto surrogate = [&]() {
        torch::NoGradGuard noGrad;
        return -(w * flow->logProb(x, a)).sum().item<double>() / 12.0;
    };
    int checked = 0;
    for (auto& p : flow->parameters()) {
        if (p.numel() == 0 || checked >= 6)
            continue;
        torch::Tensor flat = p.data().view(-1);
        const int64_t i = flat.numel() / 2;
        const double h = 1e-6, original = flat[i].item<double>();
        flat[i] = original + h;
        const double up = surrogate();
        flat[i] = original - h;
        const double down = surrogate();
        flat[i] = original;
        const double numeric = (up - down) / (2 * h), analytic = p.grad().view(-1)[i].item<double>();
        EXPECT_NEAR(analytic, numeric, 1e-6 + 1e-5 * std::abs(numeric)) << "parameter block " << checked;
        checked++;
    }
    EXPECT_EQ(checked, 6);
}

TEST(FabLoss, NonFiniteRowsLeaveTheGradientFinite) {
    torch::manual_seed(5);
    AugmentedCouplingFlow flow(tinyConfig());
    DoubleWellTarget target;
    FlowTargetDensity density(flow, target);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(6);
    auto [z, logQ] = density.sample(8, gen);
    z[2][0] = NAN;
    FabLossTerms terms = fabLoss(flow, density, z, logQ, 10.0, 8.0);
    EXPECT_FALSE(std::isfinite(terms.logQ[2].item<double>()));
    EXPECT_TRUE(std::isfinite(terms.loss.item<double>()));
    flow->zero_grad();
    terms.loss.backward();
    for (auto& p : flow->parameters())
        if (p.grad().defined())
            EXPECT_TRUE(torch::isfinite(p.grad()).all().item<bool>());
}

TEST(FabMethod, FailedEnergiesNeverGiveNonFiniteParameters) {
    torch::manual_seed(7);
    AugmentedCouplingFlow flow(tinyConfig());
    FlakyTarget target;
    FabMethod fab(flow, target, tinySettings());
    SkipClipAdam optimizer = makeOptimizer(flow);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(8);
    for (int i = 0; i < 6; i++) {
        StepStats s = fab.step(flow, optimizer, gen);
        EXPECT_EQ(s.updates, 2);
    }
    for (auto& p : flow->parameters())
        EXPECT_TRUE(torch::isfinite(p).all().item<bool>());
    torch::Tensor logW = fab.getBuffer()->logWeights();
    EXPECT_FALSE(torch::isnan(logW).any().item<bool>());
    EXPECT_GT(fab.getBuffer()->size(), 0);
    // A third of the AIS chains fail somewhere, yet every entry the buffer holds has finite points.
    EXPECT_EQ(fab.iterations(), 6);
}

TEST(FabMethod, ResumeContinuesBitwise) {
    torch::manual_seed(9);
    AugmentedCouplingFlow flow(tinyConfig());
    DoubleWellTarget target;
    FabMethod fab(flow, target, tinySettings());
    SkipClipAdam optimizer = makeOptimizer(flow);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(10);
    fab.step(flow, optimizer, gen);

    // Checkpoint everything the driver keeps.
    const std::string flowBytes = saveFlow(flow);
    std::stringstream optimizerBytes, methodBytes;
    {
        torch::serialize::OutputArchive o, m;
        optimizer.save(o);
        fab.save(m);
        o.save_to(optimizerBytes);
        m.save_to(methodBytes);
    }
    torch::Tensor genState = gen.get_state();

    for (int i = 0; i < 2; i++)
        fab.step(flow, optimizer, gen);
    auto first = snapshot(flow);
    torch::Tensor firstLogW = fab.getBuffer()->logWeights().clone();

    AugmentedCouplingFlow resumed = loadFlow(flowBytes);
    FabMethod fab2(resumed, target, tinySettings());
    SkipClipAdam optimizer2 = makeOptimizer(resumed);
    {
        torch::serialize::InputArchive o, m;
        o.load_from(optimizerBytes);
        m.load_from(methodBytes);
        optimizer2.load(o);
        fab2.load(m);
    }
    at::Generator gen2 = at::make_generator<at::CPUGeneratorImpl>(0);
    gen2.set_state(genState);
    for (int i = 0; i < 2; i++)
        fab2.step(resumed, optimizer2, gen2);
    auto second = snapshot(resumed);
    ASSERT_EQ(first.size(), second.size());
    for (size_t i = 0; i < first.size(); i++)
        EXPECT_TRUE(torch::equal(first[i], second[i])) << "parameter " << i;
    EXPECT_TRUE(torch::equal(firstLogW, fab2.getBuffer()->logWeights()));
    EXPECT_EQ(fab2.getSampler().getStepSizes(), fab.getSampler().getStepSizes());
}

TEST(FabMethod, EvaluationReportsAisEss) {
    // The evaluation is AIS towards p~ itself (alpha = 1) with the tuned step sizes frozen, in
    // passes of evalAisBatch: its ESS equals that of such a sampler run by hand from the same
    // random state, and it leaves the training sampler's step sizes alone.
    torch::manual_seed(11);
    AugmentedCouplingFlow flow(tinyConfig());
    DoubleWellTarget target;
    FabSettings settings = tinySettings();
    FabMethod fab(flow, target, settings);
    SkipClipAdam optimizer = makeOptimizer(flow);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(12);
    fab.step(flow, optimizer, gen);   // adapts the step sizes away from their initial value
    const std::vector<double> tuned = fab.getSampler().getStepSizes();
    ASSERT_NE(tuned[0], settings.ais.initialStepSize);

    at::Generator evalGen = at::make_generator<at::CPUGeneratorImpl>(13);
    NamedValues v = fab.evaluate(flow, evalGen);
    ASSERT_EQ(v.size(), 2u);
    EXPECT_EQ(v[0].first, "ais_ess");
    EXPECT_EQ(fab.getSampler().getStepSizes(), tuned);

    AisSettings byHand = settings.ais;
    byHand.alpha = 1.0;
    byHand.adaptStepSizes = false;
    AnnealedImportanceSampler sampler(byHand);
    sampler.setStepSizes(tuned);
    FlowTargetDensity density(flow, target);
    at::Generator handGen = at::make_generator<at::CPUGeneratorImpl>(13);
    std::vector<torch::Tensor> logW;
    for (int64_t done = 0; done < settings.evalAisSamples; done += settings.evalAisBatch)
        logW.push_back(sampler.run(density, settings.evalAisBatch, handGen).logW);
    EXPECT_DOUBLE_EQ(v[0].second, reverseEss(torch::cat(logW)));
    EXPECT_GT(v[0].second, 0.0);
    EXPECT_LE(v[0].second, 1.0);
}

TEST(FabMethod, ConcurrentAisGivesTheSequentialResults) {
    // The iteration's AIS pass in a second thread (concurrentAis) uses the parameters from before the
    // updates and the generator in the same order as the sequential path: with one intra-op thread
    // (both paths then do the same arithmetic) parameters, buffer and step sizes are bitwise the same
    // after several iterations. With two threads (each phase then runs on one while they overlap)
    // two concurrent runs agree bitwise. The thread count is restored after each step.
    for (int threads : {1, 2}) {
        const int before = at::get_num_threads();
        torch::set_num_threads(threads);
        std::vector<std::vector<torch::Tensor>> parameters;
        std::vector<torch::Tensor> logW;
        std::vector<std::vector<double>> stepSizes;
        for (bool concurrent : {false, true, true}) {
            torch::manual_seed(21);
            AugmentedCouplingFlow flow(tinyConfig());
            DoubleWellTarget target;
            FabSettings settings = tinySettings();
            settings.concurrentAis = concurrent;
            FabMethod fab(flow, target, settings);
            SkipClipAdam optimizer = makeOptimizer(flow);
            at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(22);
            for (int i = 0; i < 3; i++) {
                StepStats s = fab.step(flow, optimizer, gen);
                EXPECT_EQ(s.updates, 2);
                EXPECT_EQ(at::get_num_threads(), threads);
            }
            parameters.push_back(snapshot(flow));
            logW.push_back(fab.getBuffer()->logWeights().clone());
            stepSizes.push_back(fab.getSampler().getStepSizes());
        }
        for (size_t other : {size_t(0), size_t(2)}) {
            if (other == 0 && threads != 1)
                continue;
            ASSERT_EQ(parameters[other].size(), parameters[1].size());
            for (size_t i = 0; i < parameters[1].size(); i++)
                EXPECT_TRUE(torch::equal(parameters[other][i], parameters[1][i])) << "threads " << threads << ", parameter " << i;
            EXPECT_TRUE(torch::equal(logW[other], logW[1])) << "threads " << threads;
            EXPECT_EQ(stepSizes[other], stepSizes[1]) << "threads " << threads;
        }
        torch::set_num_threads(before);
    }
}

TEST(FabMethod, ReportsTheBufferFillPassByPass) {
    // The first step fills the buffer with bufferMinBatches + 1 AIS passes and reports each, with
    // the time left after the last being zero; later steps report nothing.
    torch::manual_seed(33);
    AugmentedCouplingFlow flow(tinyConfig());
    DoubleWellTarget target;
    FabSettings settings = tinySettings();
    settings.ais.initialStepSize = 0.05;
    FabMethod fab(flow, target, settings);
    std::vector<std::string> lines;
    fab.setProgressReporter([&](const std::string& line) { lines.push_back(line); });
    SkipClipAdam optimizer = makeOptimizer(flow);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(34);
    fab.step(flow, optimizer, gen);
    ASSERT_EQ(lines.size(), size_t(settings.bufferMinBatches + 1));
    EXPECT_EQ(lines[0].rfind("filling the replay buffer: AIS pass 1 of 3, ", 0), 0u) << lines[0];
    EXPECT_NE(lines[2].find("AIS pass 3 of 3"), std::string::npos) << lines[2];
    EXPECT_NE(lines[2].find("ETA 00:00:00"), std::string::npos) << lines[2];
    EXPECT_NE(lines[2].find("HMC acceptance "), std::string::npos) << lines[2];
    fab.step(flow, optimizer, gen);
    EXPECT_EQ(lines.size(), size_t(settings.bufferMinBatches + 1));
}

TEST(FabMethod, AisSnapshotLeavesTheDefaultGeneratorAlone) {
    // The AIS snapshot of the flow is built on the first step; building it must not consume the
    // default generator (torch::manual_seed streams of the caller stay as they were).
    torch::manual_seed(31);
    AugmentedCouplingFlow flow(tinyConfig());
    DoubleWellTarget target;
    FabMethod fab(flow, target, tinySettings());
    SkipClipAdam optimizer = makeOptimizer(flow);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(32);
    torch::Tensor before = at::detail::getDefaultCPUGenerator().get_state();
    fab.step(flow, optimizer, gen);
    EXPECT_TRUE(torch::equal(before, at::detail::getDefaultCPUGenerator().get_state()));
}

TEST(FabMethod, ChiralCentresKeepOneHandednessInTheBuffer) {
    // Four particles in 3-D held near unit distances by a reflection-symmetric energy: the untrained
    // flow draws both signs of the improper 0-1-2-3. With the centre listed, AIS starts only from the
    // negative ones and HMC never inverts them, so every buffer entry is negative; without it the
    // buffer holds both signs.
    class Tetrahedron : public DoubleWellTarget {
    public:
        int dimension() const override {
            return 3;
        }
        EnergyEvaluation evaluate(const torch::Tensor& x, bool computeForces) override {
            torch::Tensor y = x.detach().to(torch::kFloat64).requires_grad_(computeForces);
            torch::Tensor u, forces;
            {
                torch::AutoGradMode grad(computeForces);
                torch::Tensor iu = torch::triu_indices(4, 4, 1);
                torch::Tensor diff = y.unsqueeze(2) - y.unsqueeze(1);
                u = 2.0 * (diff.index({torch::indexing::Slice(), iu[0], iu[1]}).norm(2, -1) - 1.0).square().sum(1);
                if (computeForces)
                    forces = -torch::autograd::grad({u.sum()}, {y})[0];
            }
            return {u.detach(), forces, torch::ones({x.size(0)}, torch::kBool)};
        }
    };
    FlowConfig config = tinyConfig();
    config.dimension = 3;
    for (bool restricted : {true, false}) {
        torch::manual_seed(5);
        AugmentedCouplingFlow flow(config);
        Tetrahedron target;
        FabSettings settings = tinySettings();
        if (restricted)
            settings.chiralCentres = {{0, 1, 2, 3}};
        FabMethod fab(flow, target, settings);
        SkipClipAdam optimizer = makeOptimizer(flow);
        at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(6);
        StepStats stats = fab.step(flow, optimizer, gen);
        double flowFraction = NAN;
        for (const auto& [name, value] : stats.extra)
            if (name == "ais_flow_valid_fraction")
                flowFraction = value;
        const int64_t size = fab.getBuffer()->size();
        ASSERT_EQ(size, 4 * 16);
        std::vector<BufferBatch> all = fab.getBuffer()->sample(4, 16, gen);
        FlowTargetDensity density(flow, target);
        int64_t negative = 0;
        for (const BufferBatch& batch : all)
            negative += hasNegativeImpropers(density.unflatten(batch.z).first, {{0, 1, 2, 3}}).sum().item<int64_t>();
        if (restricted) {
            EXPECT_EQ(negative, size);
            EXPECT_GT(flowFraction, 0.1);   // the iteration's 16 flow samples: both signs, only the negative ones kept
            EXPECT_LT(flowFraction, 0.9);
        } else {
            EXPECT_GT(negative, size / 8);
            EXPECT_LT(negative, size - size / 8);
            EXPECT_EQ(flowFraction, 1.0);
        }
    }
    AugmentedCouplingFlow flow(tinyConfig());
    DoubleWellTarget planar;
    FabSettings settings = tinySettings();
    settings.chiralCentres = {{0, 1, 2, 3}};
    EXPECT_THROW(FabMethod(flow, planar, settings), std::invalid_argument);   // D = 2
    settings.chiralCentres = {{0, 1, 2, 4}};
    AugmentedCouplingFlow flow3(config);
    Tetrahedron tetrahedron;
    try {
        FabMethod(flow3, tetrahedron, settings);
        ADD_FAILURE() << "accepted particle 4 of 4";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("FabMethod: chiral centre 0 names particle 4"), std::string::npos) << e.what();
    }
}

TEST(FabMethod, EnergyRegularisationReachesTheAisWeights) {
    // A flat target of reduced energy 1e12 everywhere. Without intermediate distributions an AIS
    // weight is log w = log p~^2/q - log q = 2 (-u + log pi(a|x)) - 2 log q(x, a), so every buffer
    // entry (the learning rate is 0: the flow and thus log q stay as the AIS pass saw them) has
    // log w + 2 log q - 2 log pi = -2u' with u' the regularised energy: min(h + log(1 + u - h), cap)
    // (model-spec 15.2).
    class FlatTarget : public DoubleWellTarget {
    public:
        EnergyEvaluation evaluate(const torch::Tensor& x, bool computeForces) override {
            EnergyEvaluation e;
            e.energy = torch::full({x.size(0)}, 1e12, torch::kFloat64);
            e.valid = torch::ones({x.size(0)}, torch::kBool);
            if (computeForces)
                e.forces = torch::zeros(x.sizes(), torch::kFloat64);
            return e;
        }
    };
    const double h = 2.0;
    for (double cap : {std::numeric_limits<double>::infinity(), 7.0}) {
        torch::manual_seed(41);
        AugmentedCouplingFlow flow(tinyConfig());
        FlatTarget target;
        FabSettings settings = FabSettings::fromJson("{\"energyRegularisation\": {\"linearUntil\": 2, \"cap\": " +
                                                     (std::isinf(cap) ? std::string("null") : std::to_string(cap)) + "}}");
        settings.batchSize = 16;
        settings.updatesPerIteration = 2;
        settings.bufferMinBatches = 2;
        settings.ais.numIntermediate = 0;
        EXPECT_EQ(FabSettings::fromJson(settings.toJson()).toJson(), settings.toJson());
        FabMethod fab(flow, target, settings);
        SkipClipAdam optimizer(flow->parameters(), WarmupCosineSchedule{0.0, 0.0, 0.0, 0, 10});
        at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(42);
        fab.step(flow, optimizer, gen);
        const int64_t size = fab.getBuffer()->size();
        ASSERT_EQ(size, 4 * 16);
        std::vector<BufferBatch> all = fab.getBuffer()->sample(4, 16, gen);
        const double expected = std::min(h + std::log1p(1e12 - h), cap);
        FlowTargetDensity density(flow, target);
        for (const BufferBatch& batch : all) {
            torch::Tensor logW = fab.getBuffer()->logWeights().index_select(0, batch.indices);
            auto [x, a] = density.unflatten(batch.z);
            torch::Tensor logPi = flow->augmentedTarget().logProb(a, x);
            EXPECT_LT((logW + 2.0 * batch.logQOld - 2.0 * logPi + 2.0 * expected).abs().max().item<double>(), 1e-9) << "cap " << cap;
        }
    }
    EXPECT_THROW(FabSettings::fromJson("{\"energyRegularisation\": {\"linear\": 1}}"), std::invalid_argument);
    EXPECT_THROW(FabSettings::fromJson("{\"energyRegularisation\": {\"cap\": \"big\"}}"), std::invalid_argument);
    EXPECT_THROW(FabSettings::fromJson("{\"energyRegularisation\": 5}"), std::invalid_argument);
}
