#ifndef BG_SINGLE_UPDATE_STATS_H_
#define BG_SINGLE_UPDATE_STATS_H_

// Private helper of the training methods that make one optimiser update per step (maximum
// likelihood, flow matching).

#include "bg/Optimizer.h"
#include "bg/TrainingMethod.h"

#include <cstdint>

namespace bg {

/**
 * The StepStats of a step that made one optimiser update: its loss, the report's gradient norm,
 * learning rate and skipped/clipped flags, and the samples that entered the loss and were masked.
 */
inline StepStats singleUpdateStats(double loss, const StepReport& report, int64_t samples, int64_t masked = 0) {
    StepStats stats;
    stats.loss = loss;
    stats.gradNorm = report.gradientNorm;
    stats.learningRate = report.learningRate;
    stats.updates = 1;
    stats.skipped = report.skipped ? 1 : 0;
    stats.clipped = report.clipped ? 1 : 0;
    stats.masked = masked;
    stats.samples = samples;
    return stats;
}

} // namespace bg

#endif
