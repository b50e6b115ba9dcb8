#ifndef BG_TRAINING_INTERVAL_H_
#define BG_TRAINING_INTERVAL_H_

// Private helper of TrainingDriver: the figures of one logging interval (the steps between two
// 'train' rows of train-log.csv) and how they are written.

#include "bg/TrainingMethod.h"

#include <cstdint>
#include <iosfwd>
#include <string>

namespace bg {

/**
 * Accumulates the StepStats of the steps since the last 'train' row: mean loss over the steps
 * with a finite loss (NaN if none), mean gradient norm over all steps, the learning rate of the
 * latest step that took an update (kept across reset(), 0 until one does), totals of skipped,
 * clipped and masked updates/samples, and the throughput in samples (entered plus masked) per
 * second of step time.
 */
class TrainingInterval {
public:
    /** Add one step's figures; seconds is the step's wall time (s). */
    void add(const StepStats& stats, double seconds);
    /** Start a new interval (the learning rate is kept). */
    void reset();
    /** Mean of the interval's finite losses, NaN if there were none. */
    double meanLoss() const;
    /** Samples per second of step time (0 if no time was measured). */
    double samplesPerSecond() const;
    /**
     * Write the interval's 'train' row of train-log.csv (columns kind,step,epoch,elapsed_s,loss,
     * grad_norm,lr,skipped,clipped,masked,samples_per_s,metric,value), then one 'method' row per
     * method-specific figure of the interval's last step.
     */
    void writeLogRows(std::ostream& log, int64_t step, double epoch, double elapsed, const NamedValues& extra) const;
    /**
     * The progress line: step, epoch, loss, learning rate, throughput, ETA from the mean time per
     * step so far (elapsed / step seconds), the time until the run stops for a limit when that
     * comes first (secondsToStop, s: --max-minutes, --stop-after; infinite = no limit), skipped and
     * masked counts when not zero, and the headline figures (test_nll, reverse_ess, ais_ess) of
     * the latest evaluation.
     */
    std::string progressLine(int64_t step, int64_t totalSteps, double epoch, double elapsed, const NamedValues& lastEval,
                             double secondsToStop) const;

private:
    double lossSum = 0, normSum = 0, learningRate = 0, seconds = 0;
    int64_t steps = 0, skipped = 0, clipped = 0, masked = 0, samples = 0, finiteLosses = 0;
};

/** hh:mm:ss of a non-negative number of seconds ("--:--:--" if negative or not finite). */
std::string formatDuration(double seconds);

} // namespace bg

#endif
