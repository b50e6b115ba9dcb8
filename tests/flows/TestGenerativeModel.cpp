// The model interface over both families (bg/GenerativeModel.h): proposal densities at the same
// draws, one loader for both saved formats (bitwise), configurations, the same evaluation figures,
// and training methods refusing the other kind.

#include "CnfTestUtilities.h"
#include "TrainingTestUtilities.h"
#include "bg/CnfFiles.h"
#include "bg/Evaluation.h"
#include "bg/FlowMatchingMethod.h"
#include "bg/MaximumLikelihoodMethod.h"
#include "bg/Metrics.h"
#include "bg/ModelAdapters.h"
#include "bg/TrainingDriver.h"
#include "bg/TrainingMethodFactory.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>

using namespace bg;

namespace {

AugmentedCouplingFlow tinyFlow() {
    torch::manual_seed(4);
    return AugmentedCouplingFlow(bgtest::tinyFlowConfig(4, 2));
}

/** A small E-CNF far from the identity, solved with fixed-step RK4 (12 steps): every row takes the same steps, whatever the batch. */
EquivariantCnf smallCnf() {
    CnfConfig config = bgtest::smallCnfConfig(4, 2);
    config.solver = OdeMethod::Rk4;
    config.rk4Steps = 12;
    return bgtest::nonTrivialCnf(config);
}

torch::Generator seeded(uint64_t seed) {
    return at::detail::createCPUGenerator(seed);
}

/** The message of the std::invalid_argument that f throws ("" if none). */
template <class F>
std::string invalidArgumentMessage(F f) {
    try {
        f();
    }
    catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

std::map<std::string, double> asMap(const NamedValues& values) {
    return {values.begin(), values.end()};
}

} // namespace

TEST(GenerativeModel, CouplingFlowProposalDensityIsJointOverConditional) {
    AugmentedCouplingFlow flow = tinyFlow();
    CouplingFlowModel model(flow);
    EXPECT_EQ(model.kind(), "eacf");
    EXPECT_TRUE(model.augmented());
    EXPECT_EQ(model.numParticles(), 4);
    EXPECT_EQ(model.dimension(), 2);
    EXPECT_EQ(model.dtype(), torch::kFloat64);
    EXPECT_EQ(model.numParameters(), flow->numParameters());
    torch::NoGradGuard noGrad;
    torch::Generator g1 = seeded(3), g2 = seeded(3);
    ModelSample s = model.sample(6, g1);
    FlowSample f = flow->sample(6, g2);
    ASSERT_TRUE(torch::equal(s.x, f.x));
    ASSERT_TRUE(torch::equal(s.a, f.a));
    const ConditionalGaussian& pi = flow->augmentedTarget();
    EXPECT_TRUE(torch::equal(s.logProposal(), f.logProb - pi.logProb(f.a, f.x)));
    EXPECT_GT((s.logProposal() - s.logQ).abs().min().item<double>(), 1.0);   // log pi(a|x) is not zero
    // At given configurations: one draw a ~ pi(a|x) and the joint density there.
    torch::Tensor x = f.x;
    g1 = seeded(4), g2 = seeded(4);
    ModelDensity d = model.proposalLogProb(x, g1);
    torch::Tensor a = pi.sample(x, 1, g2);
    EXPECT_TRUE(torch::equal(d.logProposal(), flow->logProb(x, a) - pi.logProb(a, x)));
    g1 = seeded(5), g2 = seeded(5);
    EXPECT_TRUE(torch::equal(model.marginalLogProb(x, 7, g1), flow->marginalLogProb(x, 7, g2)));
}

TEST(GenerativeModel, CnfProposalDensityIsItsLogProb) {
    torch::set_num_threads(1);
    EquivariantCnf cnf = smallCnf();
    CnfModel model(cnf);
    EXPECT_EQ(model.kind(), "ecnf");
    EXPECT_FALSE(model.augmented());
    EXPECT_EQ(model.numParameters(), cnf->numParameters());
    torch::Generator generator = seeded(6);
    ModelSample s = model.sample(3, generator);
    EXPECT_FALSE(s.a.defined());
    EXPECT_FALSE(s.logAugmented.defined());
    EXPECT_GT(s.evaluations, 6);
    EXPECT_TRUE(torch::equal(s.logProposal(), s.logQ));
    // The density of a sample, solved forward with it, agrees with logProb() solved backward (to the
    // solver's accuracy), and the marginal is that exact logProb (no draws).
    torch::Tensor exact = cnf->logProb(s.x);
    EXPECT_LT((exact - s.logQ).abs().max().item<double>(), 1e-4);
    EXPECT_GT((s.logQ - cnf->baseLogProb(s.x)).abs().max().item<double>(), 1e-2);   // not the prior's density
    EXPECT_TRUE(torch::equal(model.marginalLogProb(s.x, 7, generator), exact));
    EXPECT_TRUE(torch::equal(model.proposalLogProb(s.x, generator).logProposal(), exact));
}

TEST(GenerativeModel, CnfMultiDrawProposalIsItsLogQ) {
    torch::set_num_threads(1);
    EquivariantCnf cnf = smallCnf();
    CnfModel model(cnf);
    torch::Generator generator = seeded(6);
    ModelSample s = model.sample(3, generator);
    EXPECT_TRUE(torch::equal(multiDrawLogProposal(model, s, 5, generator), s.logQ.to(torch::kFloat64)));
}

namespace {

/** -u(x) - log Z of the unit zero-CoM Gaussian over N particles in D dimensions: its normalised log density. */
torch::Tensor unitZeroCoMLogDensity(const torch::Tensor& x) {
    torch::Tensor centred = x - x.mean(1, true);
    const double dims = double((x.size(1) - 1) * x.size(2));
    return -0.5 * centred.square().sum({1, 2}) - 0.5 * dims * std::log(2 * M_PI);
}

} // namespace

TEST(GenerativeModel, MultiDrawProposalOfTheIdentityFlowIsItsBase) {
    // An identity-initialised flow is its base: q(x, a) = N0(x) pi(a|x), so every draw's
    // log q(x, a_m) - log pi(a_m|x) is log N0(x), and so is their mean over M draws.
    torch::manual_seed(2);
    AugmentedCouplingFlow flow(bgtest::tinyFlowConfig(3, 2));
    CouplingFlowModel model(flow);
    torch::NoGradGuard noGrad;
    torch::Generator g = seeded(9);
    ModelSample s = model.sample(50, g);
    torch::Tensor logQ = multiDrawLogProposal(model, s, 5, g);
    EXPECT_EQ(logQ.scalar_type(), torch::kFloat64);
    EXPECT_LT((logQ - unitZeroCoMLogDensity(s.x)).abs().max().item<double>(), 1e-10);
}

TEST(GenerativeModel, MultiDrawWeightsAreExactImportanceWeights) {
    // A flow far from its base, the unit zero-CoM Gaussian as the target (normalised, Z = 1): the
    // weights p(x) / qhat(x) have mean 1 for every M (exact on the extended space), M = 1 is the
    // joint weight bitwise, more draws bring the weights towards the marginal's (higher ESS), and
    // the estimate that replaces the flow's own a by a fresh draw (the test-NLL marginal) is biased.
    torch::set_num_threads(1);
    torch::manual_seed(5);
    AugmentedCouplingFlow flow(bgtest::randomTinyFlowConfig(3, 2));
    CouplingFlowModel model(flow);
    torch::NoGradGuard noGrad;
    torch::Generator g = seeded(11);
    const int64_t n = 40000;
    ModelSample s = model.sample(n, g);
    torch::Tensor logP = unitZeroCoMLogDensity(s.x);
    EXPECT_TRUE(torch::equal(multiDrawLogProposal(model, s, 1, g), s.logProposal()));
    auto meanWeight = [&](const torch::Tensor& logProposal, double& standardError) {
        torch::Tensor w = torch::exp(logP - logProposal);
        standardError = w.std().item<double>() / std::sqrt(double(n));
        return w.mean().item<double>();
    };
    double se1 = 0, se8 = 0, seFresh = 0;
    const torch::Tensor one = multiDrawLogProposal(model, s, 1, g), eight = multiDrawLogProposal(model, s, 8, g);
    const double mean1 = meanWeight(one, se1), mean8 = meanWeight(eight, se8);
    EXPECT_LT(std::abs(mean1 - 1.0), 4 * se1) << mean1 << " +- " << se1;
    EXPECT_LT(std::abs(mean8 - 1.0), 4 * se8) << mean8 << " +- " << se8;
    EXPECT_GT(reverseEss(logP - eight), reverseEss(logP - one) + 0.05);
    const double meanFresh = meanWeight(flow->marginalLogProb(s.x, 8, g), seFresh);
    EXPECT_GT(meanFresh - 1.0, 6 * seFresh) << meanFresh << " +- " << seFresh;
    EXPECT_EQ(invalidArgumentMessage([&] { multiDrawLogProposal(model, s, 0, g); }),
              "multiDrawLogProposal: draws must be at least 1, got 0");
}

TEST(GenerativeModel, LoadModelReadsBothFormatsBitwise) {
    AugmentedCouplingFlow flow = tinyFlow();
    EquivariantCnf cnf = smallCnf();
    const std::string flowBytes = saveFlow(flow), cnfBytes = saveCnf(cnf);
    std::shared_ptr<GenerativeModel> eacf = loadModel(flowBytes), ecnf = loadModel(cnfBytes);
    EXPECT_EQ(eacf->kind(), "eacf");
    EXPECT_EQ(ecnf->kind(), "ecnf");
    EXPECT_EQ(eacf->save(), flowBytes);
    EXPECT_EQ(ecnf->save(), cnfBytes);
    EXPECT_EQ(eacf->configJson(), flow->getConfig().toJson());
    EXPECT_EQ(ecnf->configJson(), cnf->getConfig().toJson());
    // Files: either kind's own writer, read back by the one loader; and the adapters' writers.
    const std::string dir = bgtest::freshDirectory("generative-model-files");
    saveFlowToFile(flow, dir + "/a.bgflow");
    saveCnfToFile(cnf, dir + "/c.bgflow");
    EXPECT_EQ(loadModelFromFile(dir + "/a.bgflow")->save(), flowBytes);
    EXPECT_EQ(loadModelFromFile(dir + "/c.bgflow")->save(), cnfBytes);
    ecnf->saveToFile(dir + "/c2.bgflow");
    EquivariantCnf cnfAgain = loadCnfFromFile(dir + "/c2.bgflow");
    EXPECT_EQ(saveCnf(cnfAgain), cnfBytes);
    eacf->saveToFile(dir + "/a2.bgflow");
    AugmentedCouplingFlow flowAgain = loadFlowFromFile(dir + "/a2.bgflow");
    EXPECT_EQ(saveFlow(flowAgain), flowBytes);
    // Neither format, corrupted data, a missing file.
    EXPECT_NE(invalidArgumentMessage([] { loadModel("not a model"); }).find("neither"), std::string::npos);
    std::string corrupted = cnfBytes;
    corrupted[corrupted.size() / 2] ^= 0x20;
    EXPECT_NE(invalidArgumentMessage([&] { loadModel(corrupted); }).find("checksum"), std::string::npos);
    EXPECT_THROW(loadModelFromFile(dir + "/missing.bgflow"), std::invalid_argument);
}

TEST(GenerativeModel, CreateModelFromEitherConfiguration) {
    const FlowConfig fc = bgtest::tinyFlowConfig(4, 2);
    const CnfConfig cc = bgtest::smallCnfConfig(4, 2);
    EXPECT_EQ(createModel(fc.toJson())->kind(), "eacf");
    EXPECT_EQ(createModel(fc.toJson())->configJson(), fc.toJson());
    std::string named = fc.toJson();
    named.insert(1, "\"model\": \"eacf\", ");
    EXPECT_EQ(normalisedModelConfig(named), fc.toJson());
    EXPECT_EQ(modelKindOfConfig(named), "eacf");
    EXPECT_EQ(createModel(cc.toJson())->kind(), "ecnf");
    EXPECT_EQ(createModel(cc.toJson())->configJson(), cc.toJson());
    EXPECT_EQ(modelKindOfConfig(R"({"model": "ecnf", "egnnWidth": 8})"), "ecnf");
    EXPECT_NE(invalidArgumentMessage([] { createModel(R"({"model": "gan"})"); }).find("unknown model 'gan'"), std::string::npos);
    EXPECT_THROW(createModel(R"({"model": "ecnf", "numBlocks": 3})"), std::invalid_argument);   // an E-ACF key
    EXPECT_THROW(createModel("[1]"), std::invalid_argument);
}

TEST(GenerativeModel, MethodsRefuseTheOtherKind) {
    torch::Tensor data = torch::randn({32, 4, 2}, torch::kFloat64);
    bgtest::HarmonicTarget target(4, 2);
    TrainingMethodInputs inputs;
    inputs.target = &target;
    inputs.trainingData = data;
    inputs.config.batchSize = 8;
    inputs.model = std::make_shared<CnfModel>(smallCnf());
    const std::string fab = invalidArgumentMessage([&] { createTrainingMethod("fab", inputs); });
    EXPECT_NE(fab.find("FAB (method 'fab') needs the E-ACF (model 'eacf'), but the model is the E-CNF ('ecnf')"), std::string::npos) << fab;
    const std::string ml = invalidArgumentMessage([&] { createTrainingMethod("ml", inputs); });
    EXPECT_NE(ml.find("maximum likelihood (method 'ml') needs the E-ACF"), std::string::npos) << ml;
    EXPECT_EQ(createTrainingMethod("fm", inputs)->modelKind(), "ecnf");
    inputs.model = std::make_shared<CouplingFlowModel>(tinyFlow());
    const std::string fm = invalidArgumentMessage([&] { createTrainingMethod("fm", inputs); });
    EXPECT_NE(fm.find("flow matching (method 'fm') needs the E-CNF (model 'ecnf'), but the model is the E-ACF ('eacf')"), std::string::npos)
        << fm;
    EXPECT_EQ(trainingMethodModelKind("fab"), "eacf");
    EXPECT_EQ(trainingMethodModelKind("fm"), "ecnf");
    EXPECT_EQ(trainingMethodModelKind("sgd"), "");

    // A method stepped with the other kind, and a driver given a mismatched pair.
    CnfModel cnf(smallCnf());
    CouplingFlowModel flow(tinyFlow());
    SkipClipAdam optimizer(cnf.parameters(), WarmupCosineSchedule{});
    torch::Generator generator = seeded(1);
    FlowMatchingMethod matching(data, 8, FlowMatchingSettings());
    EXPECT_NE(invalidArgumentMessage([&] { matching.step(flow, optimizer, generator); }).find("needs the E-CNF"), std::string::npos);
    MaximumLikelihoodMethod likelihood(data, inputs.config, 0.0);
    EXPECT_NE(invalidArgumentMessage([&] { likelihood.step(cnf, optimizer, generator); }).find("needs the E-ACF"), std::string::npos);
    DriverOptions options;
    options.outputDirectory = bgtest::freshDirectory("generative-model-mismatch");
    const std::string driver = invalidArgumentMessage([&] {
        TrainingDriver(std::make_shared<CouplingFlowModel>(tinyFlow()), inputs.config, std::make_unique<FlowMatchingMethod>(data, 8, FlowMatchingSettings()),
                       torch::Tensor(), nullptr, options);
    });
    EXPECT_NE(driver.find("method 'fm' trains the E-CNF, but the model is the E-ACF"), std::string::npos) << driver;
}

TEST(GenerativeModel, EvaluationGivesTheSameFiguresForBothKinds) {
    torch::set_num_threads(1);
    bgtest::HarmonicTarget target(4, 2);
    torch::Tensor test = torch::randn({12, 4, 2}, torch::kFloat64) + 0.3;
    EvaluationOptions options;
    options.flowSamples = 16;
    options.batchSize = 8;
    options.marginalDraws = 3;
    CouplingFlowModel eacf(tinyFlow());
    CnfModel ecnf(smallCnf());
    torch::Generator g1 = seeded(7), g2 = seeded(7);
    EvaluationSamples eacfSamples, ecnfSamples;
    auto acf = asMap(evaluateFlow(eacf, test, &target, options, g1, &eacfSamples));
    auto cnf = asMap(evaluateFlow(ecnf, test, &target, options, g2, &ecnfSamples));
    for (const char* name : {"reverse_ess", "flow_invalid_fraction", "test_nll", "test_mean_log_q", "test_forward_ess"}) {
        EXPECT_EQ(acf.count(name), 1u) << name;
        EXPECT_EQ(cnf.count(name), 1u) << name;
    }
    // Sampling cost figures only for the ODE model.
    EXPECT_EQ(acf.count("sample_nfe"), 0u);
    EXPECT_GT(cnf.at("sample_nfe"), 6);
    EXPECT_GT(cnf.at("sample_seconds_per_1024"), 0);
    // The E-CNF's figures are its exact densities: the NLL of the centred test set, log w = -u - log q.
    torch::Tensor centred = test - test.mean(1, true);
    torch::Tensor logQ = ecnf.get()->logProb(centred);
    EXPECT_NEAR(cnf.at("test_nll"), -logQ.mean().item<double>(), 1e-9);
    EXPECT_NEAR(cnf.at("test_mean_log_q"), -cnf.at("test_nll"), 1e-12);
    torch::Tensor expectedW = -target.evaluate(ecnfSamples.x, false).energy - ecnfSamples.logQ;
    EXPECT_TRUE(torch::allclose(ecnfSamples.logWeights, expectedW, 0, 1e-12));
    EXPECT_EQ(ecnfSamples.x.sizes(), (std::vector<int64_t>{16, 4, 2}));
    // The E-ACF through the interface equals the flow overload bitwise.
    torch::Generator g3 = seeded(7);
    auto direct = asMap(evaluateFlow(eacf.get(), test, &target, options, g3));
    EXPECT_EQ(direct, acf);
}
