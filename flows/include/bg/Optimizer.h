#ifndef BG_OPTIMIZER_H_
#define BG_OPTIMIZER_H_

#include <torch/optim/adam.h>
#include <torch/serialize/archive.h>
#include <torch/types.h>

#include <deque>
#include <functional>
#include <memory>
#include <vector>

namespace bg {

/**
 * Linear warm-up from initialLr to peakLr over warmupSteps, then cosine decay to endLr at
 * totalSteps (which includes the warm-up), constant endLr afterwards (model-spec 12.2).
 */
struct WarmupCosineSchedule {
    double initialLr = 2e-5, peakLr = 2e-4, endLr = 2e-5;
    int64_t warmupSteps = 0, totalSteps = 1;
    /** Learning rate for optimiser step `step` (0-based count of steps actually taken). */
    double learningRate(int64_t step) const;
};

/** What one call of SkipClipAdam::step() did. */
struct StepReport {
    double gradientNorm = 0.0;   ///< global L2 norm of the gradient before clipping
    bool skipped = false;        ///< true if the update was skipped
    bool clipped = false;        ///< true if the gradient was clipped
    double learningRate = 0.0;   ///< learning rate used (0 when skipped)
};

/**
 * Adam (beta 0.9/0.999, eps 1e-8) behind the median-window gradient guard of model-spec 12.1:
 * a window of the last `window` global gradient norms (initially 2/3 of it at 1e30, the rest
 * empty) gives med = median; a step is skipped if the norm is non-finite or above
 * ignoreFactor * med, otherwise the gradient is clipped to clipFactor * med and non-finite
 * entries are zeroed. Every norm enters the window; skipped steps do not advance the schedule.
 */
class SkipClipAdam {
public:
    SkipClipAdam(std::vector<torch::Tensor> parameters, WarmupCosineSchedule schedule, double clipFactor = 2.0,
                 double ignoreFactor = 10.0, int window = 100);
    /**
     * Called by step() with the parameters before anything else, so that the norm, the skip and clip
     * decisions and the update see the gradients it leaves (e.g. DistributedContext::averageGradients:
     * the mean over the ranks of a data-parallel run, identical on every rank).
     */
    using GradientReducer = std::function<void(const std::vector<torch::Tensor>& parameters)>;
    void setGradientReducer(GradientReducer reducer) {
        gradientReducer = std::move(reducer);
    }
    /** Apply the update from the gradients currently stored in the parameters (after the reducer, if any). */
    StepReport step();
    void zeroGrad();
    int64_t stepsTaken() const {
        return taken;
    }
    int64_t stepsSkipped() const {
        return skippedCount;
    }
    void save(torch::serialize::OutputArchive& archive) const;
    void load(torch::serialize::InputArchive& archive);

private:
    double medianNorm() const;
    std::vector<torch::Tensor> parameters;
    GradientReducer gradientReducer;
    WarmupCosineSchedule schedule;
    double clipFactor, ignoreFactor;
    int window;
    std::deque<double> norms;
    std::unique_ptr<torch::optim::Adam> adam;
    int64_t taken = 0, skippedCount = 0;
};

} // namespace bg

#endif
