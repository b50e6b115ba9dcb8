// Flow-matching training of the E-CNF (ecnf-spec 2.1, 3): the loss, the pairings, the method's
// state, and a short DW4 run that lowers the test NLL.

#include "bg/EquivariantCnf.h"
#include "bg/FlowMatchingMethod.h"
#include "bg/NpyIO.h"
#include "bg/Optimizer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>
#include <iostream>
#include <sstream>
#include <stdexcept>

namespace {

const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);

bg::CnfConfig dw4Config() {
    bg::CnfConfig c;   // N = 4, D = 2
    c.egnnLayers = 3;
    c.egnnWidth = 32;
    c.invariantFeatures = 16;
    c.dtype = "float64";
    c.rtol = c.atol = 1e-4;
    c.timeScale = 10.0;   // a field smooth in t: few solver steps (see CnfConfig::timeScale)
    return c;
}

bg::SkipClipAdam makeOptimizer(bg::EquivariantCnf& cnf, double lr, int64_t steps) {
    bg::WarmupCosineSchedule schedule;
    schedule.initialLr = schedule.peakLr = lr;
    schedule.endLr = lr / 10;
    schedule.totalSteps = steps;
    return bg::SkipClipAdam(cnf->parameters(), schedule);
}

TEST(FlowMatching, LossFollowsTheSpecPath) {
    torch::manual_seed(1);
    bg::EquivariantCnf cnf(dw4Config());
    torch::Tensor x0 = cnf->sampleBase(5), x1 = torch::randn({5, 4, 2}, f64), t = torch::rand({5}, f64);
    const double s = 1 - cnf->getConfig().sigmaMin;
    torch::Tensor tt = t.view({-1, 1, 1});
    torch::Tensor expected = (cnf->velocity((1 - s * tt) * x0 + tt * x1, t) - (x1 - s * x0)).square().mean();
    EXPECT_NEAR(bg::FlowMatchingMethod::loss(cnf, x0, x1, t).item<double>(), expected.item<double>(), 1e-14);
}

TEST(FlowMatching, SettingsJsonAndValidation) {
    bg::FlowMatchingSettings s = bg::FlowMatchingSettings::fromJson(R"({"pairing": "ot", "alignmentIterations": 3})");
    EXPECT_EQ(s.pairing, bg::Pairing::MinibatchOt);
    EXPECT_EQ(bg::FlowMatchingSettings::fromJson(s.toJson()).toJson(), s.toJson());
    EXPECT_THROW(bg::FlowMatchingSettings::fromJson(R"({"pairing": "sinkhorn"})"), std::invalid_argument);
    EXPECT_THROW(bg::FlowMatchingSettings::fromJson(R"({"alignmentIterations": 0})"), std::invalid_argument);
    EXPECT_THROW(bg::FlowMatchingSettings::fromJson(R"({"x": 0})"), std::invalid_argument);
}

TEST(FlowMatching, EquivariantPairingShortensTransport) {
    torch::manual_seed(2);
    bg::EquivariantCnf cnf(dw4Config());
    torch::Tensor x1 = bg::removeCentreOfMass(torch::randn({32, 4, 2}, f64) * 2);
    double cost[3];
    int k = 0;
    for (const char* pairing : {"independent", "ot", "equivariant-ot"}) {
        bg::FlowMatchingMethod method(x1, 32, bg::FlowMatchingSettings::fromJson(std::string(R"({"pairing": ")") + pairing + "\"}"));
        torch::Generator generator = at::detail::createCPUGenerator(4);
        torch::Tensor x0 = method.pairedNoise(cnf, x1, generator);
        EXPECT_LT(x0.mean(1).abs().max().item<double>(), 1e-12);
        cost[k++] = (x0 - x1).square().sum({1, 2}).mean().item<double>();
    }
    EXPECT_LT(cost[1], cost[0]);
    EXPECT_LT(cost[2], 0.7 * cost[1]);
}

TEST(FlowMatching, ResumedMethodContinuesIdentically) {
    torch::Tensor data = torch::randn({20, 4, 2}, f64);
    bg::FlowMatchingSettings settings;
    auto run = [&](bool resume) {
        torch::manual_seed(3);
        bg::EquivariantCnf cnf(dw4Config());
        bg::SkipClipAdam optimizer = makeOptimizer(cnf, 1e-3, 10);
        bg::FlowMatchingMethod method(data, 8, settings);
        torch::Generator generator = at::detail::createCPUGenerator(6);
        for (int i = 0; i < 3; i++)
            method.step(cnf, optimizer, generator);
        if (resume) {
            torch::serialize::OutputArchive out;
            method.save(out);
            std::ostringstream bytes;
            out.save_to(bytes);
            bg::FlowMatchingMethod fresh(data, 8, settings);
            torch::serialize::InputArchive in;
            std::istringstream read(bytes.str());
            in.load_from(read);
            fresh.load(in);
            return fresh.step(cnf, optimizer, generator).loss;
        }
        return method.step(cnf, optimizer, generator).loss;
    };
    EXPECT_EQ(run(false), run(true));
    EXPECT_THROW(bg::FlowMatchingMethod(data, 30, settings), std::invalid_argument);
}

TEST(FlowMatching, ShortDw4RunLowersTheTestNll) {
    const std::string dir = std::string(OPENMMBG_DATA_DIR) + "/reference/";
    torch::Tensor train = bg::readNpy(dir + "dw4-train.npy", torch::kFloat64);
    torch::Tensor test = bg::readNpy(dir + "dw4-test.npy", torch::kFloat64).narrow(0, 0, 100);
    torch::manual_seed(7);
    bg::EquivariantCnf cnf(dw4Config());
    auto clock = std::chrono::steady_clock::now();
    auto seconds = [&clock]() {
        auto now = std::chrono::steady_clock::now();
        double s = std::chrono::duration<double>(now - clock).count();
        clock = now;
        return s;
    };
    const double before = -cnf->logProb(test).mean().item<double>();
    const double evalBefore = seconds();
    const int64_t steps = 300;
    bg::SkipClipAdam optimizer = makeOptimizer(cnf, 2e-3, steps);
    bg::FlowMatchingMethod method(train, 64, bg::FlowMatchingSettings());
    torch::Generator generator = at::detail::createCPUGenerator(8);
    double firstLoss = 0, lastLoss = 0;
    for (int64_t i = 0; i < steps; i++) {
        double loss = method.step(cnf, optimizer, generator).loss;
        if (i < 20)
            firstLoss += loss / 20;
        if (i >= steps - 20)
            lastLoss += loss / 20;
    }
    const double trainTime = seconds();
    const double after = -cnf->logProb(test).mean().item<double>();
    std::cout << "DW4 E-CNF FM: test NLL " << before << " -> " << after << ", loss " << firstLoss << " -> " << lastLoss << "; seconds: NLL "
              << evalBefore << ", training " << trainTime << ", NLL " << seconds() << std::endl;
    EXPECT_LT(lastLoss, firstLoss);
    EXPECT_LT(after, before - 3.0);
}

} // namespace
