#include "bg/AnnealedImportanceSampler.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

namespace bg {

namespace {

torch::Tensor combine(const torch::Tensor& q, const torch::Tensor& p, double cq, double cp) {
    // cq or cp may be zero while the other term is -inf for invalid rows: skip zero terms.
    if (cq == 0.0)
        return cp * p;
    if (cp == 0.0)
        return cq * q;
    return cq * q + cp * p;
}

torch::Tensor logDensity(const JointEvaluation& e, double cq, double cp) {
    torch::Tensor value = combine(e.logQ, e.logP, cq, cp);
    return torch::where(e.valid, value, torch::full_like(value, -INFINITY));
}

torch::Tensor gradient(const JointEvaluation& e, double cq, double cp) {
    return combine(e.gradLogQ, e.gradLogP, cq, cp);
}

// Take rows of `next` where `mask` holds, else rows of `current`.
JointEvaluation select(const torch::Tensor& mask, const JointEvaluation& next, const JointEvaluation& current) {
    JointEvaluation out;
    torch::Tensor column = mask.unsqueeze(1);
    out.logQ = torch::where(mask, next.logQ, current.logQ);
    out.logP = torch::where(mask, next.logP, current.logP);
    out.valid = torch::where(mask, next.valid, current.valid);
    out.gradLogQ = torch::where(column, next.gradLogQ, current.gradLogQ);
    out.gradLogP = torch::where(column, next.gradLogP, current.gradLogP);
    return out;
}

// The first `rows` rows of an evaluation (with gradients).
JointEvaluation firstRows(const JointEvaluation& e, int64_t rows) {
    JointEvaluation out;
    out.logQ = e.logQ.narrow(0, 0, rows);
    out.logP = e.logP.narrow(0, 0, rows);
    out.valid = e.valid.narrow(0, 0, rows);
    out.gradLogQ = e.gradLogQ.narrow(0, 0, rows);
    out.gradLogP = e.gradLogP.narrow(0, 0, rows);
    return out;
}

} // namespace

void AisSettings::validate() const {
    auto fail = [](const std::string& what) { throw std::invalid_argument("AisSettings: " + what); };
    if (numIntermediate < 0)
        fail("numIntermediate must not be negative");
    if (!(alpha > 0.0) || !std::isfinite(alpha))
        fail("alpha must be positive and finite");
    if (hmcSteps < 1 || leapfrogSteps < 1)
        fail("hmcSteps and leapfrogSteps must be at least 1");
    if (!(initialStepSize > 0.0) || !std::isfinite(initialStepSize))
        fail("initialStepSize must be positive and finite");
    if (!(targetAcceptance > 0.0 && targetAcceptance < 1.0))
        fail("targetAcceptance must lie in (0, 1)");
    if (!(adaptationFactor >= 1.0) || !std::isfinite(adaptationFactor))
        fail("adaptationFactor must be at least 1");
    if (tuningRows < 1)
        fail("tuningRows must be at least 1");
}

torch::Tensor hmcStep(JointDensity& density, torch::Tensor& z, JointEvaluation& current, double cq, double cp, double stepSize,
                      int leapfrogSteps, at::Generator& generator) {
    torch::Tensor p = torch::randn(z.sizes(), generator, z.options());
    torch::Tensor h0 = -logDensity(current, cq, cp) + 0.5 * p.square().sum(1);
    torch::Tensor zNew = z;
    torch::Tensor stayedValid = current.valid.clone();
    JointEvaluation e = current;
    p = p + 0.5 * stepSize * gradient(e, cq, cp);
    for (int l = 0; l < leapfrogSteps; l++) {
        zNew = zNew + stepSize * p;
        e = density.evaluate(zNew, true);
        stayedValid = stayedValid & e.valid;
        const double kick = (l == leapfrogSteps - 1) ? 0.5 * stepSize : stepSize;
        p = p + kick * gradient(e, cq, cp);
    }
    torch::Tensor h1 = -logDensity(e, cq, cp) + 0.5 * p.square().sum(1);
    torch::Tensor logAccept = (h0 - h1).clamp_max(0.0);
    logAccept = torch::where(torch::isnan(logAccept) | ~stayedValid, torch::full_like(logAccept, -INFINITY), logAccept);
    torch::Tensor u = torch::rand(logAccept.sizes(), generator, logAccept.options());
    torch::Tensor accept = torch::log(u) < logAccept;
    z = torch::where(accept.unsqueeze(1), zNew, z);
    current = select(accept, e, current);
    return accept;
}

AnnealedImportanceSampler::AnnealedImportanceSampler(const AisSettings& s) : settings(s) {
    settings.validate();
    stepSizes.assign(settings.numIntermediate, settings.initialStepSize);
    initialSearchDone = !(settings.adaptStepSizes && settings.tuneInitialStepSizes);
}

void AnnealedImportanceSampler::setAlpha(double alpha) {
    AisSettings s = settings;
    s.alpha = alpha;
    s.validate();
    settings = s;
}

void AnnealedImportanceSampler::setStepSizes(const std::vector<double>& sizes) {
    if (sizes.size() != stepSizes.size())
        throw std::invalid_argument("AnnealedImportanceSampler::setStepSizes: expected " + std::to_string(stepSizes.size()) + " step sizes");
    for (double s : sizes)
        if (!(s > 0.0) || !std::isfinite(s))
            throw std::invalid_argument("AnnealedImportanceSampler::setStepSizes: step sizes must be positive and finite");
    stepSizes = sizes;
    initialSearchDone = true;
}

double AnnealedImportanceSampler::betaAt(int index) const {
    return double(index) / double(settings.numIntermediate + 1);
}

AisResult AnnealedImportanceSampler::run(JointDensity& density, int64_t n, at::Generator& generator) {
    auto [z0, logQ0] = density.sample(n, generator);
    return runFrom(density, z0, generator);
}

AisResult AnnealedImportanceSampler::runFrom(JointDensity& density, const torch::Tensor& z0, at::Generator& generator) {
    torch::NoGradGuard noGrad;
    const int numInt = settings.numIntermediate;
    const bool needGradients = numInt > 0;
    torch::Tensor z = z0.to(torch::kFloat64);
    JointEvaluation current = density.evaluate(z, needGradients);
    const int64_t n = z.size(0);
    // Replace invalid flow samples by uniformly chosen valid ones of the same batch.
    torch::Tensor validIndex = current.valid.nonzero().view(-1);
    AisResult result;
    result.flowValidFraction = n > 0 ? double(validIndex.numel()) / double(n) : 0.0;
    if (validIndex.numel() == 0) {
        result.z = z;
        result.logW = torch::full({n}, -INFINITY, torch::kFloat64);
        result.logQ = current.logQ;
        result.valid = current.valid;
        result.acceptance.assign(numInt, 0.0);
        // Nothing to move, but pooled decisions (search and adaptation) still need this sampler's
        // (empty) share, in the same sequence of reducer calls as a sampler with rows.
        if (acceptanceReducer) {
            bool searched = true;
            for (int t = 1; t <= numInt; t++) {
                if (!initialSearchDone)
                    searched = searchStepSize(t, [](double) { return std::make_pair(0.0, 0.0); }, t > 1 && searched) && searched;
                for (int h = 0; h < settings.hmcSteps; h++)
                    adaptStepSize(t, 0.0, 0.0);
            }
            if (searched)
                initialSearchDone = true;
        }
        return result;
    }
    if (validIndex.numel() < n) {
        torch::Tensor pick = torch::randint(validIndex.numel(), {n}, generator, torch::TensorOptions().dtype(torch::kInt64));
        torch::Tensor source = torch::where(current.valid, torch::arange(n, torch::kInt64), validIndex.index_select(0, pick));
        z = z.index_select(0, source);
        current.logQ = current.logQ.index_select(0, source);
        current.logP = current.logP.index_select(0, source);
        current.valid = current.valid.index_select(0, source);
        if (needGradients) {
            current.gradLogQ = current.gradLogQ.index_select(0, source);
            current.gradLogP = current.gradLogP.index_select(0, source);
        }
    }
    const double alpha = settings.alpha;
    // log pi_beta = (1 - alpha beta) log q + alpha beta log p~.
    auto coefficients = [&](int index) { return std::make_pair(1.0 - alpha * betaAt(index), alpha * betaAt(index)); };
    auto [cq1, cp1] = coefficients(1);
    torch::Tensor logW = logDensity(current, cq1, cp1) - current.logQ;
    result.acceptance.assign(numInt, 0.0);
    const bool search = !initialSearchDone;
    bool searched = true;
    for (int t = 1; t <= numInt; t++) {
        auto [cq, cp] = coefficients(t);
        if (search) {
            // Trial HMC steps on a copy of the first rows; the chain itself is not moved.
            const int64_t rows = std::min<int64_t>(n, settings.tuningRows);
            auto trial = [&, cq = cq, cp = cp](double stepSize) {
                torch::Tensor zTrial = z.narrow(0, 0, rows);
                JointEvaluation eTrial = firstRows(current, rows);
                torch::Tensor accept = hmcStep(density, zTrial, eTrial, cq, cp, stepSize, settings.leapfrogSteps, generator);
                return std::make_pair(accept.to(torch::kFloat64).mean().item<double>(), double(rows));
            };
            searched = searchStepSize(t, trial, t > 1 && searched) && searched;
        }
        double accepted = 0.0;
        for (int h = 0; h < settings.hmcSteps; h++) {
            torch::Tensor accept = hmcStep(density, z, current, cq, cp, stepSizes[t - 1], settings.leapfrogSteps, generator);
            const double rate = accept.to(torch::kFloat64).mean().item<double>();
            accepted += rate;
            adaptStepSize(t, rate, double(n));
        }
        result.acceptance[t - 1] = accepted / settings.hmcSteps;
        auto [cqNext, cpNext] = coefficients(t + 1);
        logW = logW + logDensity(current, cqNext, cpNext) - logDensity(current, cq, cp);
    }
    if (search && searched)
        initialSearchDone = true;
    // Rows that stayed valid have finite weights; anything else is -inf.
    logW = torch::where(current.valid & torch::isfinite(logW), logW, torch::full_like(logW, -INFINITY));
    result.z = z;
    result.logW = logW;
    result.logQ = current.logQ;
    result.valid = current.valid & torch::isfinite(logW);
    return result;
}

double AnnealedImportanceSampler::pooledRate(double rate, double rows) {
    if (acceptanceReducer) {
        const auto [acceptedRows, allRows] = acceptanceReducer(rate * rows, rows);
        return allRows > 0.0 ? acceptedRows / allRows : -1.0;
    }
    return rows > 0.0 ? rate : -1.0;
}

bool AnnealedImportanceSampler::searchStepSize(int t, const std::function<std::pair<double, double>(double)>& trial,
                                               bool fromNeighbour) {
    // Neighbouring distributions differ little: start from the largest step that passed for the
    // previous one (its result x sqrt 2) rather than from initialStepSize again.
    if (fromNeighbour)
        stepSizes[t - 1] = stepSizes[t - 2] * std::sqrt(2.0);
    // Bracket the largest step whose trial acceptance reaches the target between a passing step
    // `pass` and a failing 2 x pass (halving from the current step while it fails, doubling while
    // it passes), narrow the bracket to a factor 2^(1/4) by two bisections in log space, then keep
    // pass / sqrt(2): leapfrog's acceptance falls off a cliff at its stability limit, and a trial
    // on a few rows may pass right at that edge; the per-step adaptation moves it from there.
    // With a reducer every sampler takes the same decisions from the pooled rates, so the reducer
    // calls pair up; a pooled rate of -1 means no sampler had rows.
    constexpr int maxTrials = 40;   // 2^40: twelve orders of magnitude
    const double target = settings.targetAcceptance;
    auto rateAt = [&](double s) {
        const auto [rate, rows] = trial(s);
        return pooledRate(rate, rows);
    };
    double pass = stepSizes[t - 1];
    double rate = rateAt(pass);
    if (rate < 0.0)
        return false;
    double fail = pass;
    bool bracketed;
    if (rate < target) {
        for (int i = 0; i < maxTrials && rate >= 0.0 && rate < target; i++)
            rate = rateAt(pass *= 0.5);
        fail = 2.0 * pass;
        bracketed = rate >= target;
    } else {
        for (int i = 0; i < maxTrials && rate >= target; i++)
            rate = rateAt(fail *= 2.0);
        pass = 0.5 * fail;
        bracketed = rate >= 0.0 && rate < target;
    }
    if (rate < 0.0)
        return false;
    for (int i = 0; i < 2 && bracketed; i++) {
        const double middle = std::sqrt(pass * fail);
        const double r = rateAt(middle);
        if (r < 0.0)
            return false;
        (r >= target ? pass : fail) = middle;
    }
    stepSizes[t - 1] = pass / std::sqrt(2.0);
    return true;
}

void AnnealedImportanceSampler::adaptStepSize(int t, double rate, double rows) {
    if (!settings.adaptStepSizes)
        return;
    if (acceptanceReducer) {
        rate = pooledRate(rate, rows);
        if (rate < 0.0)
            return;
    }
    stepSizes[t - 1] = rate > settings.targetAcceptance ? stepSizes[t - 1] * settings.adaptationFactor
                                                        : stepSizes[t - 1] / settings.adaptationFactor;
}

void AnnealedImportanceSampler::save(torch::serialize::OutputArchive& archive) const {
    archive.write("aisStepSizes", torch::tensor(stepSizes, torch::kFloat64));
    archive.write("aisStepSizesTuned", torch::tensor(int64_t(initialSearchDone ? 1 : 0), torch::kInt64));
}

void AnnealedImportanceSampler::load(torch::serialize::InputArchive& archive) {
    torch::Tensor sizes;
    archive.read("aisStepSizes", sizes);
    std::vector<double> values(sizes.data_ptr<double>(), sizes.data_ptr<double>() + sizes.numel());
    setStepSizes(values);
    // Checkpoints written before the initial search existed hold adapted step sizes: keep them.
    torch::Tensor tuned;
    if (archive.try_read("aisStepSizesTuned", tuned))
        initialSearchDone = tuned.item<int64_t>() != 0 || !(settings.adaptStepSizes && settings.tuneInitialStepSizes);
}

} // namespace bg
