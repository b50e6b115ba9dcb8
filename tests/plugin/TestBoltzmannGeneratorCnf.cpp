// BoltzmannGeneratorForce and BoltzmannGeneratorIntegrator with the E-CNF ("model": "ecnf") on DW4
// (Reference platform): importance weights against the model evaluated directly, flow-matching
// training, FAB refused, XML and checkpoint round trips, flow moves.

#include "BoltzmannGeneratorForce.h"
#include "BoltzmannGeneratorIntegrator.h"
#include "BoltzmannTestSystems.h"
#include "PluginTestEnvironment.h"
#include "ReferenceSystems.h"
#include "bg/CnfFiles.h"
#include "bg/ModelAdapters.h"
#include "bg/NpyIO.h"
#include "openmm/Context.h"
#include "openmm/OpenMMException.h"
#include "openmm/Platform.h"
#include "openmm/System.h"
#include "openmm/VerletIntegrator.h"
#include "openmm/serialization/XmlSerializer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

namespace {

/** A small float64 E-CNF for DW4: one EGCL layer of width 16, fixed-step RK4 with 4 steps, exact divergence. */
const string cnfConfig = R"({"model": "ecnf", "numParticles": 4, "dimension": 2, "egnnLayers": 1, "egnnWidth": 16,
    "invariantFeatures": 8, "timeScale": 1.0, "solver": "rk4", "rk4Steps": 4, "dtype": "float64"})";

template <class F>
void expectOpenMMException(F f, const string& fragment) {
    ::expectOpenMMException(f, "BoltzmannGeneratorForce", fragment);
}

/** DW4 with an E-CNF force (planar, seed 5, batch 32, constant learning rate 2e-3, flow matching with independent pairing). */
System* createCnfSystem(BoltzmannGeneratorForce*& force, const string& weights = string()) {
    System* system = createDoubleWell4System();
    force = new BoltzmannGeneratorForce({0, 1, 2, 3}, referenceSystemTemperature());
    force->setPlanar(true);
    force->setFlow(cnfConfig, weights);
    force->setRandomNumberSeed(5);
    force->setTrainingSettings(R"({"batchSize": 32, "epochs": 20, "schedule": {"initialLr": 0.002, "peakLr": 0.002, "endLr": 0.002, "warmupEpochs": 0},
                                 "fm": {"pairing": "independent"}})");
    system->addForce(force);
    return system;
}

/** The first `count` DW4 reference training configurations as OpenMM positions (nm, z = 0). */
vector<Vec3> referencePositions(int count) {
    torch::Tensor x = bg::readNpy(string(OPENMMBG_DATA_DIR) + "/reference/dw4-train.npy", torch::kFloat64).slice(0, 0, count).contiguous();
    vector<Vec3> positions;
    const double* data = x.data_ptr<double>();
    for (int64_t i = 0; i < x.numel() / 2; i++)
        positions.push_back(Vec3(data[2 * i], data[2 * i + 1], 0.0));
    return positions;
}

double mean(const vector<double>& values) {
    double sum = 0.0;
    for (double v : values)
        sum += v;
    return sum / values.size();
}

void expectSameSamples(const BoltzmannGeneratorSamples& a, const BoltzmannGeneratorSamples& b) {
    ASSERT_EQ(a.positions.size(), b.positions.size());
    for (size_t i = 0; i < a.positions.size(); i++)
        for (int k = 0; k < 3; k++)
            EXPECT_EQ(a.positions[i][k], b.positions[i][k]);
    for (int i = 0; i < a.numSamples; i++) {
        EXPECT_EQ(a.logProb[i], b.logProb[i]);
        EXPECT_EQ(a.logWeights[i], b.logWeights[i]);
    }
}

class CnfForce : public ::testing::Test {
protected:
    void SetUp() override {
        loadOpenMMBGPlugins();
        platform = &Platform::getPlatformByName("Reference");
        torch::set_num_threads(1);   // tiny tensors: threads only add synchronisation on a shared machine
    }
    /**
     * DW4 with the E-CNF force (createCnfSystem()) in a Context with `integrator` (owned here, default
     * Verlet), at the first reference configuration; `count` reference configurations in `data`.
     */
    Context& start(int count, Integrator* integrator = nullptr) {
        system.reset(createCnfSystem(force));
        this->integrator.reset(integrator != nullptr ? integrator : new VerletIntegrator(0.001));
        context.reset(new Context(*system, *this->integrator, *platform));
        data = referencePositions(count);
        context->setPositions(vector<Vec3>(data.begin(), data.begin() + 4));
        return *context;
    }
    Platform* platform = nullptr;
    unique_ptr<System> system;
    BoltzmannGeneratorForce* force = nullptr;
    unique_ptr<Integrator> integrator;
    unique_ptr<Context> context;
    vector<Vec3> data;
};

} // namespace

TEST_F(CnfForce, LogWeightsAreMinusEnergyMinusTheModelsLogDensity) {
    Context& context = start(6);
    const vector<Vec3>& positions = data;
    const vector<double> logW = force->computeLogWeights(context, positions, 1);
    const vector<double> energies = force->computeEnergies(context, positions);
    const double kT = testBoltzmann * referenceSystemTemperature();

    // The same weights evaluated by the model itself: log q(x) by its ODE, x centred.
    bg::CnfModel model(bg::loadCnf(force->getWeights(context)));
    vector<double> flat;
    for (const Vec3& p : positions) {
        flat.push_back(p[0]);
        flat.push_back(p[1]);
    }
    torch::Tensor x = torch::tensor(flat, torch::kFloat64).reshape({6, 4, 2});
    x = x - x.mean(1, true);
    torch::Generator generator = at::detail::createCPUGenerator(1);
    torch::Tensor logQ = model.marginalLogProb(x, 1, generator);
    for (int i = 0; i < 6; i++) {
        const double expected = -energies[i] / kT - logQ[i].item<double>();
        EXPECT_NEAR(logW[i], expected, 1e-9 * (1.0 + fabs(expected))) << i;
    }
    const vector<double> logProb = force->computeLogProb(context, positions, 3);   // numDraws unused: exact
    for (int i = 0; i < 6; i++)
        EXPECT_NEAR(logProb[i], logQ[i].item<double>(), 1e-9 * (1.0 + fabs(logProb[i]))) << i;

    // Samples: finite densities, log w = -U/kT - log q(x) with no augmented term. The exact
    // divergence draws no random numbers, so the Context's stream (seed + 1) is still fresh: the
    // model sampled directly from that stream gives the same log q.
    BoltzmannGeneratorSamples samples = force->sample(context, 16);
    ASSERT_EQ(samples.numSamples, 16);
    torch::Generator stream = at::detail::createCPUGenerator(force->getRandomNumberSeed() + 1);
    bg::ModelSample direct = model.sample(16, stream);
    for (int i = 0; i < 16; i++) {
        EXPECT_EQ(samples.logProb[i], direct.logQ[i].item<double>()) << i;
        EXPECT_TRUE(isfinite(samples.logProb[i])) << i;
        EXPECT_TRUE(isfinite(samples.logWeights[i])) << i;
        const double expected = -samples.energies[i] / kT - samples.logProb[i];
        EXPECT_NEAR(samples.logWeights[i], expected, 1e-9 * (1.0 + fabs(expected))) << i;
    }
}

TEST_F(CnfForce, LargeRequestsRunInChunks) {
    // 300 rows: two chunks of the ODE (State::inferenceChunk = 256); each row's log q is its own.
    Context& context = start(300);
    const vector<double> all = force->computeLogProb(context, data, 1);
    ASSERT_EQ(all.size(), 300u);
    const vector<Vec3> tail(data.begin() + 4 * 250, data.begin() + 4 * 260);
    const vector<double> part = force->computeLogProb(context, tail, 1);
    for (int i = 0; i < 10; i++)
        EXPECT_NEAR(all[250 + i], part[i], 1e-9 * (1.0 + fabs(part[i]))) << i;
    BoltzmannGeneratorSamples samples = force->sample(context, 300);
    ASSERT_EQ(samples.positions.size(), 1200u);
    for (int i = 0; i < 300; i++)
        EXPECT_TRUE(isfinite(samples.logProb[i]) && isfinite(samples.logWeights[i])) << i;
}

TEST_F(CnfForce, TrainOnSamplesRaisesTheLogDensityOfTheData) {
    Context& context = start(256);
    vector<Vec3> probe(data.begin(), data.begin() + 4 * 64);
    const double before = mean(force->computeLogProb(context, probe, 1));
    BoltzmannGeneratorTrainingReport report = force->trainOnSamples(context, data, 40);
    EXPECT_EQ(report.iterations, 40);
    EXPECT_EQ(report.totalIterations, 40);
    EXPECT_TRUE(isfinite(report.lastLoss));
    const double after = mean(force->computeLogProb(context, probe, 1));
    EXPECT_GT(after, before + 0.5) << "mean log q of the data before " << before << ", after " << after;
}

TEST_F(CnfForce, FabAndDistributedFlowMatchingAreRefused) {
    Context& context = start(64);
    expectOpenMMException([&] { force->train(context, 1); }, "FAB, which needs the E-ACF");
    force->setDistributedTraining(true);
    force->updateParametersInContext(context);
    expectOpenMMException([&] { force->trainOnSamples(context, data, 1); }, "one process only");

    // The integrator's in-step training is FAB too.
    BoltzmannGeneratorForce* second;
    unique_ptr<System> other(createCnfSystem(second));
    BoltzmannGeneratorIntegrator bgIntegrator(1.0, 0.001);
    bgIntegrator.setTrainingInterval(1);
    Context bgContext(*other, bgIntegrator, *platform);
    bgContext.setPositions(vector<Vec3>(data.begin(), data.begin() + 4));
    expectOpenMMException([&] { bgIntegrator.step(1); }, "FAB, which needs the E-ACF");
}

TEST_F(CnfForce, WrongSizesAndWeightsAreRefused) {
    BoltzmannGeneratorForce force({0, 1, 2}, 300.0);
    force.setPlanar(true);
    force.setFlow(cnfConfig);   // the configuration alone is checked here; its size when a Context is made
    unique_ptr<System> dw4(createDoubleWell4System());
    dw4->addForce(new BoltzmannGeneratorForce(force));
    VerletIntegrator verlet(0.001);
    expectOpenMMException([&] { Context refused(*dw4, verlet, *platform); }, "the flow models 4 particles in 2 dimensions");
    torch::manual_seed(1);
    bg::CnfConfig other = bg::CnfConfig::fromJson(cnfConfig);
    other.egnnWidth = 8;
    bg::EquivariantCnf cnf(other);
    expectOpenMMException([&] { force.setFlow(cnfConfig, bg::saveCnf(cnf)); }, "different configuration");
    expectOpenMMException([&] { force.setFlow(R"({"model": "ecnf", "egnnLayers": 0})"); }, "invalid flow configuration");
}

TEST_F(CnfForce, XmlAndCheckpointRoundTripsReproduceSamples) {
    Context& context = start(64, new BoltzmannGeneratorIntegrator(1.0, 0.001));
    force->trainOnSamples(context, data, 3);

    // Checkpoint: flow, generator and the flow-matching optimiser; training then sampling resume exactly.
    stringstream checkpoint;
    context.createCheckpoint(checkpoint);
    force->trainOnSamples(context, data, 2);
    BoltzmannGeneratorSamples first = force->sample(context, 8);
    context.loadCheckpoint(checkpoint);
    BoltzmannGeneratorTrainingReport report = force->trainOnSamples(context, data, 2);
    EXPECT_EQ(report.totalIterations, 5);
    expectSameSamples(first, force->sample(context, 8));

    // XML: the trained weights travel with the System; a new Context with the same seed samples alike.
    force->setFlow(force->getFlowConfig(), force->getWeights(context));
    force->updateParametersInContext(context);
    stringstream xml;
    XmlSerializer::serialize<System>(system.get(), "System", xml);
    unique_ptr<System> copy(XmlSerializer::deserialize<System>(xml));
    const BoltzmannGeneratorForce* copiedForce = nullptr;
    for (int i = 0; i < copy->getNumForces(); i++)
        if (auto* f = dynamic_cast<const BoltzmannGeneratorForce*>(&copy->getForce(i)))
            copiedForce = f;
    ASSERT_NE(copiedForce, nullptr);
    EXPECT_EQ(copiedForce->getFlowWeights(), force->getFlowWeights());
    VerletIntegrator plain1(0.001), plain2(0.001);
    Context fresh(*system, plain1, *platform), restored(*copy, plain2, *platform);
    fresh.setPositions(vector<Vec3>(data.begin(), data.begin() + 4));
    restored.setPositions(vector<Vec3>(data.begin(), data.begin() + 4));
    expectSameSamples(force->sample(fresh, 8), copiedForce->sample(restored, 8));

}

TEST_F(CnfForce, FlowMovesRunWithTheCnfProposalDensity) {
    BoltzmannGeneratorIntegrator* integrator = new BoltzmannGeneratorIntegrator(1.0, 0.001);
    integrator->setFlowMoveInterval(1);
    integrator->setProposalBatchSize(16);
    integrator->setRandomNumberSeed(7);
    Context& context = start(256, integrator);
    force->trainOnSamples(context, data, 40);
    integrator->step(40);
    EXPECT_EQ(integrator->getNumFlowMoves(), 40);
    EXPECT_GE(integrator->getAcceptanceRate(), 0.0);
    EXPECT_LE(integrator->getAcceptanceRate(), 1.0);
    EXPECT_DOUBLE_EQ(integrator->getAcceptanceRate(), integrator->getNumAcceptedFlowMoves() / 40.0);
    EXPECT_GT(integrator->getNumAcceptedFlowMoves(), 0);
    EXPECT_LE(integrator->getNumAcceptedFlowMoves(), 40);
}
