#include "bg/Optimizer.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace bg {

double WarmupCosineSchedule::learningRate(int64_t step) const {
    if (step < warmupSteps)
        return initialLr + (peakLr - initialLr) * double(step) / double(warmupSteps);
    int64_t decaySteps = std::max<int64_t>(1, totalSteps - warmupSteps);
    double progress = std::min(1.0, double(step - warmupSteps) / double(decaySteps));
    return endLr + 0.5 * (peakLr - endLr) * (1.0 + std::cos(M_PI * progress));
}

SkipClipAdam::SkipClipAdam(std::vector<torch::Tensor> parameters, WarmupCosineSchedule schedule, double clipFactor,
                           double ignoreFactor, int window)
        : parameters(std::move(parameters)), schedule(schedule), clipFactor(clipFactor), ignoreFactor(ignoreFactor), window(window) {
    if (window < 1 || !(clipFactor > 0) || !(ignoreFactor > 0))
        throw std::invalid_argument("SkipClipAdam: window, clipFactor and ignoreFactor must be positive");
    // Two thirds of the window start at a huge norm, so the median (and with it clipping) only bites
    // once about a third of the window holds real norms.
    for (int i = 0; i < (2 * window) / 3; i++)
        norms.push_back(1e30);
    adam = std::make_unique<torch::optim::Adam>(this->parameters, torch::optim::AdamOptions(schedule.learningRate(0)).betas({0.9, 0.999}).eps(1e-8));
}

double SkipClipAdam::medianNorm() const {
    // nanmedian: NaN norms of failed steps stay in the window but do not count.
    std::vector<double> sorted;
    for (double n : norms)
        if (!std::isnan(n))
            sorted.push_back(n);
    if (sorted.empty())
        return INFINITY;
    size_t mid = sorted.size() / 2;
    std::nth_element(sorted.begin(), sorted.begin() + mid, sorted.end());
    double upper = sorted[mid];
    if (sorted.size() % 2 == 1)
        return upper;
    double lower = *std::max_element(sorted.begin(), sorted.begin() + mid);
    return 0.5 * (lower + upper);
}

StepReport SkipClipAdam::step() {
    torch::NoGradGuard noGrad;
    StepReport report;
    if (gradientReducer)
        gradientReducer(parameters);
    double squares = 0.0;
    for (auto& p : parameters)
        if (p.grad().defined())
            squares += p.grad().to(torch::kFloat64).square().sum().item<double>();
    report.gradientNorm = std::sqrt(squares);
    double median = medianNorm();
    norms.push_back(report.gradientNorm);
    if ((int) norms.size() > window)
        norms.pop_front();
    if (!std::isfinite(report.gradientNorm) || report.gradientNorm > ignoreFactor * median) {
        report.skipped = true;
        skippedCount++;
        return report;
    }
    double limit = clipFactor * median;
    double scale = report.gradientNorm > limit ? limit / report.gradientNorm : 1.0;
    report.clipped = scale < 1.0;
    for (auto& p : parameters)
        if (p.grad().defined()) {
            p.grad().mul_(scale);
            p.grad().nan_to_num_(0.0, 0.0, 0.0);
        }
    report.learningRate = schedule.learningRate(taken);
    for (auto& group : adam->param_groups())
        static_cast<torch::optim::AdamOptions&>(group.options()).lr(report.learningRate);
    adam->step();
    taken++;
    return report;
}

void SkipClipAdam::zeroGrad() {
    adam->zero_grad();
}

void SkipClipAdam::save(torch::serialize::OutputArchive& archive) const {
    torch::serialize::OutputArchive adamArchive;
    adam->save(adamArchive);
    archive.write("adam", adamArchive);
    archive.write("norms", torch::tensor(std::vector<double>(norms.begin(), norms.end()), torch::kFloat64));
    archive.write("counters", torch::tensor({taken, skippedCount}, torch::kInt64));
}

void SkipClipAdam::load(torch::serialize::InputArchive& archive) {
    torch::serialize::InputArchive adamArchive;
    archive.read("adam", adamArchive);
    adam->load(adamArchive);
    torch::Tensor savedNorms, counters;
    archive.read("norms", savedNorms);
    archive.read("counters", counters);
    norms.assign(savedNorms.data_ptr<double>(), savedNorms.data_ptr<double>() + savedNorms.numel());
    taken = counters[0].item<int64_t>();
    skippedCount = counters[1].item<int64_t>();
}

} // namespace bg
