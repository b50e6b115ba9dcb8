// AIS with HMC over the joint space: log Z of a Gaussian target, HMC invariance (moments), rejection
// of invalid regions, replacement of invalid flow samples, step-size adaptation and its state.

#include "bg/AnnealedImportanceSampler.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

using namespace bg;

namespace {

const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);

/**
 * q = N(muQ, sQ^2 I) and p~ = exp(logZ) N(muP, sP^2 I) in M dimensions, in closed form.
 * Optionally, points whose first coordinate exceeds `wall` are invalid (their values are NaN).
 */
class GaussianPair : public JointDensity {
public:
    GaussianPair(int64_t m, double muQ, double sQ, double muP, double sP, double logZ)
            : m(m), muQ(muQ), sQ(sQ), muP(muP), sP(sP), logZ(logZ) {}
    int64_t dimension() const override {
        return m;
    }
    std::pair<torch::Tensor, torch::Tensor> sample(int64_t n, at::Generator& gen) override {
        torch::Tensor z = muQ + sQ * torch::randn({n, m}, gen, f64);
        if (invalidSamples > 0)
            z.narrow(0, 0, invalidSamples).fill_(NAN);
        return {z, logNormal(z, muQ, sQ)};
    }
    JointEvaluation evaluate(const torch::Tensor& z, bool grads) override {
        evaluations += z.size(0);
        JointEvaluation e;
        e.logQ = logNormal(z, muQ, sQ);
        e.logP = logNormal(z, muP, sP) + logZ;
        e.valid = torch::isfinite(z).all(1);
        if (wall < INFINITY)
            e.valid = e.valid & (z.select(1, 0) <= wall);
        e.logP = torch::where(e.valid, e.logP, torch::full_like(e.logP, NAN));
        if (grads) {
            e.gradLogQ = -(z - muQ) / (sQ * sQ);
            e.gradLogP = -(z - muP) / (sP * sP);
            e.gradLogQ = torch::where(e.valid.unsqueeze(1), e.gradLogQ, torch::zeros_like(z));
            e.gradLogP = torch::where(e.valid.unsqueeze(1), e.gradLogP, torch::zeros_like(z));
        }
        return e;
    }
    static torch::Tensor logNormal(const torch::Tensor& z, double mu, double s) {
        const int64_t m = z.size(1);
        return -0.5 * ((z - mu) / s).square().sum(1) - m * (std::log(s) + 0.5 * std::log(2 * M_PI));
    }
    double wall = INFINITY;
    int64_t invalidSamples = 0;
    int64_t evaluations = 0;

private:
    int64_t m;
    double muQ, sQ, muP, sP, logZ;
};

/** Save `from` to an archive in memory and load it into `to`. */
void copyThroughArchive(const AnnealedImportanceSampler& from, AnnealedImportanceSampler& to) {
    torch::serialize::OutputArchive out;
    from.save(out);
    std::ostringstream bytes;
    out.save_to(bytes);
    torch::serialize::InputArchive in;
    std::istringstream source(bytes.str());
    in.load_from(source);
    to.load(in);
}

double logMeanExp(const torch::Tensor& logW) {
    return (torch::logsumexp(logW, 0) - std::log(double(logW.size(0)))).item<double>();
}

} // namespace

TEST(AnnealedImportanceSampler, RecoversLogNormaliserOfGaussianTarget) {
    // alpha = 1: E_q-AIS[w] = Z. The flow is a poor proposal (shifted, too wide); AIS with a few
    // intermediate distributions must still estimate log Z = 1.3 to within a few hundredths.
    GaussianPair density(4, 0.5, 1.3, 0.0, 1.0, 1.3);
    AisSettings settings;
    settings.alpha = 1.0;
    settings.numIntermediate = 8;
    settings.initialStepSize = 0.5;
    AnnealedImportanceSampler ais(settings);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(17);
    ais.run(density, 2000, gen);   // tunes the step sizes
    AisResult r = ais.run(density, 20000, gen);
    EXPECT_TRUE(r.valid.all().item<bool>());
    EXPECT_NEAR(logMeanExp(r.logW), 1.3, 0.03);
    for (double a : r.acceptance)   // the transitions really moved the points
        EXPECT_GT(a, 0.3);
}

TEST(AnnealedImportanceSampler, AlphaTwoTargetsPSquaredOverQ) {
    // With p~ and q Gaussians, g = p~^2/q is an unnormalised Gaussian (2/sP^2 - 1/sQ^2 > 0) whose
    // normaliser factorises over dimensions: Z_g = Z_1^m with Z_1 = integral N(x; 0, sP)^2 / N(x; muQ, sQ) dx.
    const double muQ = 0.3, sQ = 1.2, sP = 1.0;
    // Numeric quadrature of the 1D integral (fine grid; the integrand is smooth and decays fast).
    torch::Tensor x = torch::linspace(-15, 15, 300001, f64);
    torch::Tensor logIntegrand = 2 * (-0.5 * x.square() / (sP * sP) - std::log(sP) - 0.5 * std::log(2 * M_PI)) -
                                 (-0.5 * (x - muQ).square() / (sQ * sQ) - std::log(sQ) - 0.5 * std::log(2 * M_PI));
    const double logZ1 = std::log(torch::exp(logIntegrand).sum().item<double>() * (30.0 / 300000.0));
    const int64_t m = 2;
    GaussianPair density(m, muQ, sQ, 0.0, sP, 0.0);
    AisSettings settings;
    settings.alpha = 2.0;
    settings.numIntermediate = 6;
    settings.initialStepSize = 0.5;
    AnnealedImportanceSampler ais(settings);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(23);
    ais.run(density, 2000, gen);
    AisResult r = ais.run(density, 40000, gen);
    EXPECT_NEAR(logMeanExp(r.logW), m * logZ1, 0.05);
}

TEST(AnnealedImportanceSampler, HmcPreservesTheTargetDistribution) {
    // Start from exact samples of N(1, 0.7^2) and apply many HMC steps on log pi = log p~: the
    // moments must stay those of the target.
    GaussianPair density(3, 0.0, 1.0, 1.0, 0.7, 0.0);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(5);
    torch::Tensor z = 1.0 + 0.7 * torch::randn({20000, 3}, gen, f64);
    JointEvaluation current = density.evaluate(z, true);
    double acceptance = 0.0;
    for (int s = 0; s < 20; s++)
        acceptance += hmcStep(density, z, current, 0.0, 1.0, 0.4, 5, gen).to(torch::kFloat64).mean().item<double>();
    EXPECT_GT(acceptance / 20, 0.5);
    EXPECT_LT(acceptance / 20, 1.0);
    // Standard errors: mean 0.7/sqrt(n) = 0.005, variance ~0.49*sqrt(2/n) = 0.005 (n = 20000, the
    // chains are correlated over steps but each row started from an exact draw).
    EXPECT_LT((z.mean(0) - 1.0).abs().max().item<double>(), 0.025);
    EXPECT_LT((z.var(0) - 0.49).abs().max().item<double>(), 0.03);
    // The cached evaluation matches the final points.
    EXPECT_LT((current.logP - density.evaluate(z, false).logP).abs().max().item<double>(), 1e-12);
}

TEST(AnnealedImportanceSampler, HmcNeverEntersInvalidRegion) {
    GaussianPair density(2, 0.0, 1.0, 0.0, 1.0, 0.0);
    density.wall = 0.5;   // z0 > 0.5 is invalid
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(6);
    torch::Tensor z = torch::randn({4000, 2}, gen, f64).clamp_max(0.5);
    JointEvaluation current = density.evaluate(z, true);
    for (int s = 0; s < 10; s++)
        hmcStep(density, z, current, 0.0, 1.0, 0.8, 5, gen);
    EXPECT_LE(z.select(1, 0).max().item<double>(), 0.5);
    EXPECT_TRUE(current.valid.all().item<bool>());
}

TEST(AnnealedImportanceSampler, ReplacesInvalidFlowSamples) {
    GaussianPair density(2, 0.0, 1.0, 0.0, 1.0, 0.0);
    density.invalidSamples = 10;
    AisSettings settings;
    settings.numIntermediate = 1;
    AnnealedImportanceSampler ais(settings);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(7);
    AisResult r = ais.run(density, 50, gen);
    EXPECT_TRUE(torch::isfinite(r.z).all().item<bool>());
    EXPECT_TRUE(torch::isfinite(r.logW).all().item<bool>());
    EXPECT_TRUE(r.valid.all().item<bool>());
}

TEST(AnnealedImportanceSampler, InitialSearchFindsTheStepScaleFromFarOff) {
    // q and p~ of width 0.05 in 6 dimensions: a leapfrog step of 10 accepts nothing, one of 1e-6
    // accepts everything while hardly moving. The initial search must bring both to the width's
    // scale within the first pass, where that pass's own HMC steps then accept about the target
    // rate; without the search the first pass accepts nothing from step 10.
    GaussianPair density(6, 0.0, 0.05, 0.0, 0.05, 0.0);
    for (double initial : {10.0, 1e-6}) {
        AisSettings settings;
        settings.numIntermediate = 3;
        settings.initialStepSize = initial;
        AnnealedImportanceSampler ais(settings);
        EXPECT_FALSE(ais.stepSizesTuned());
        at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(31);
        density.evaluations = 0;
        AisResult r = ais.run(density, 256, gen);
        EXPECT_TRUE(ais.stepSizesTuned());
        for (int t = 0; t < settings.numIntermediate; t++) {
            EXPECT_GT(ais.getStepSizes()[t], 0.02) << "initial " << initial << ", distribution " << t;
            EXPECT_LT(ais.getStepSizes()[t], 0.1) << "initial " << initial << ", distribution " << t;
            EXPECT_GT(r.acceptance[t], 0.5) << "initial " << initial << ", distribution " << t;
            EXPECT_LT(r.acceptance[t], 0.97) << "initial " << initial << ", distribution " << t;
        }
        // The trials ran on tuningRows rows, 5 leapfrog evaluations each: one long search for the
        // first distribution (log2(200) halvings or log2(5e4) doublings, two bisections), a few
        // trials for each of the others, which start from their neighbour's result (measured: 19
        // and 28 trials in all; searching each from the initial step would take about 33 and 54).
        EXPECT_LT(density.evaluations, 256 * (1 + 3 * 5) + 30 * 5 * settings.tuningRows);
        // A second pass does not search again: one evaluation of the flow samples and 5 leapfrog
        // evaluations per distribution, nothing else; its step sizes move by 1.02 per HMC step.
        const std::vector<double> before = ais.getStepSizes();
        density.evaluations = 0;
        ais.run(density, 64, gen);
        EXPECT_EQ(density.evaluations, 64 * (1 + 3 * 5));
        for (int t = 0; t < settings.numIntermediate; t++)
            EXPECT_NEAR(ais.getStepSizes()[t] / before[t], 1.0, 0.021);

        AisSettings without = settings;
        without.tuneInitialStepSizes = false;
        AnnealedImportanceSampler slow(without);
        EXPECT_TRUE(slow.stepSizesTuned());
        AisResult s = slow.run(density, 256, gen);
        if (initial > 1.0)
            for (double a : s.acceptance)
                EXPECT_LT(a, 0.05);
    }
}

TEST(AnnealedImportanceSampler, PooledSearchKeepsSamplersInStepWhenOneHasNoValidRows) {
    // Two samplers (the ranks of a data-parallel run) pool their acceptance through a reducer that
    // waits for both; one sampler's flow samples are all invalid, every pass. Both must make the
    // same reducer calls (a mismatch leaves one waiting: the reducer then fails after 10 s) and
    // end each pass with the same step sizes, the search done once by both.
    struct Lockstep {
        std::mutex mutex;
        std::condition_variable changed;
        int arrived = 0;
        int64_t generation = 0;
        std::pair<double, double> sums{0.0, 0.0}, result{0.0, 0.0};
        int64_t calls[2] = {0, 0};
        std::pair<double, double> reduce(int who, double acceptedRows, double rows) {
            std::unique_lock<std::mutex> lock(mutex);
            calls[who]++;
            const int64_t mine = generation;
            sums.first += acceptedRows;
            sums.second += rows;
            if (++arrived == 2) {
                result = sums;
                sums = {0.0, 0.0};
                arrived = 0;
                generation++;
                changed.notify_all();
                return result;
            }
            if (!changed.wait_for(lock, std::chrono::seconds(10), [&] { return generation != mine; }))
                throw std::runtime_error("the other sampler made no matching reducer call");
            return result;
        }
    } lockstep;
    GaussianPair valid(6, 0.0, 0.05, 0.0, 0.05, 0.0), invalid(6, 0.0, 0.05, 0.0, 0.05, 0.0);
    invalid.invalidSamples = 64;
    AisSettings settings;
    settings.numIntermediate = 3;
    settings.initialStepSize = 10.0;
    AnnealedImportanceSampler a(settings), b(settings);
    a.setAcceptanceReducer([&](double x, double r) { return lockstep.reduce(0, x, r); });
    b.setAcceptanceReducer([&](double x, double r) { return lockstep.reduce(1, x, r); });
    for (int pass = 0; pass < 3; pass++) {
        std::string failureA, failureB;
        auto runOn = [&](AnnealedImportanceSampler& sampler, GaussianPair& density, uint64_t seed, std::string& failure) {
            try {
                at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
                sampler.run(density, 64, gen);
            } catch (const std::exception& e) {
                failure = e.what();
            }
        };
        std::thread other([&] { runOn(b, invalid, 50 + pass, failureB); });
        runOn(a, valid, 40 + pass, failureA);
        other.join();
        ASSERT_EQ(failureA, "") << "pass " << pass;
        ASSERT_EQ(failureB, "") << "pass " << pass;
        EXPECT_EQ(lockstep.calls[0], lockstep.calls[1]) << "pass " << pass;
        EXPECT_EQ(a.getStepSizes(), b.getStepSizes()) << "pass " << pass;
        EXPECT_TRUE(a.stepSizesTuned());
        EXPECT_TRUE(b.stepSizesTuned());
    }
    EXPECT_LT(a.getStepSizes()[0], 0.1);   // the search ran (from 10)
}

TEST(AnnealedImportanceSampler, CheckpointsFromBeforeTheSearchCountAsTuned) {
    // An archive with step sizes but no search flag (written before the search existed) holds
    // adapted step sizes: loading it must not search again.
    AisSettings settings;
    settings.numIntermediate = 2;
    torch::serialize::OutputArchive out;
    out.write("aisStepSizes", torch::tensor(std::vector<double>{0.01, 0.02}, torch::kFloat64));
    std::ostringstream bytes;
    out.save_to(bytes);
    torch::serialize::InputArchive in;
    std::istringstream source(bytes.str());
    in.load_from(source);
    AnnealedImportanceSampler ais(settings);
    ais.load(in);
    EXPECT_TRUE(ais.stepSizesTuned());
    EXPECT_EQ(ais.getStepSizes(), (std::vector<double>{0.01, 0.02}));
}

TEST(AnnealedImportanceSampler, StepSizesAdaptAndRoundTrip) {
    GaussianPair density(2, 0.0, 1.0, 0.0, 0.05, 0.0);   // narrow target: step 1.0 is far too large
    AisSettings settings;
    settings.numIntermediate = 2;
    settings.tuneInitialStepSizes = false;   // the slow per-step adaptation alone
    AnnealedImportanceSampler ais(settings);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(8);
    for (int i = 0; i < 30; i++)
        ais.run(density, 64, gen);
    for (double s : ais.getStepSizes())
        EXPECT_LT(s, 1.0 / std::pow(1.02, 20));   // shrank on nearly every step
    AnnealedImportanceSampler restored(settings);
    copyThroughArchive(ais, restored);
    EXPECT_EQ(restored.getStepSizes(), ais.getStepSizes());
    EXPECT_TRUE(restored.stepSizesTuned());
    // A sampler saved before its initial search searches after loading, too.
    AisSettings searching = settings;
    searching.tuneInitialStepSizes = true;
    AnnealedImportanceSampler fresh(searching), freshRestored(searching);
    copyThroughArchive(fresh, freshRestored);
    EXPECT_FALSE(freshRestored.stepSizesTuned());
    AisSettings bad = settings;
    bad.leapfrogSteps = 0;
    EXPECT_THROW(AnnealedImportanceSampler{bad}, std::invalid_argument);
}
