#include "TrainingInterval.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <ostream>
#include <sstream>

namespace bg {

std::string formatDuration(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0)
        return "--:--:--";
    int64_t s = int64_t(seconds + 0.5);
    char buffer[32];
    std::snprintf(buffer, sizeof(buffer), "%02lld:%02lld:%02lld", (long long) (s / 3600), (long long) (s / 60 % 60), (long long) (s % 60));
    return buffer;
}

void TrainingInterval::add(const StepStats& stats, double stepSeconds) {
    seconds += stepSeconds;
    steps++;
    if (std::isfinite(stats.loss)) {
        lossSum += stats.loss;
        finiteLosses++;
    }
    normSum += stats.gradNorm;
    if (stats.updates > stats.skipped)
        learningRate = stats.learningRate;
    skipped += stats.skipped;
    clipped += stats.clipped;
    masked += stats.masked;
    samples += stats.samples + stats.masked;
}

void TrainingInterval::reset() {
    lossSum = normSum = seconds = 0;
    steps = skipped = clipped = masked = samples = finiteLosses = 0;
}

double TrainingInterval::meanLoss() const {
    return finiteLosses > 0 ? lossSum / double(finiteLosses) : NAN;
}

double TrainingInterval::samplesPerSecond() const {
    return seconds > 0 ? double(samples) / seconds : 0.0;
}

void TrainingInterval::writeLogRows(std::ostream& log, int64_t step, double epoch, double elapsed, const NamedValues& extra) const {
    log << "train," << step << "," << epoch << "," << elapsed << "," << meanLoss() << "," << normSum / double(steps) << ","
        << learningRate << "," << skipped << "," << clipped << "," << masked << "," << samplesPerSecond() << ",,\n";
    // Method-specific figures of the interval's last step (FAB: AIS acceptance, step size, buffer
    // size, time split), one 'method' row each.
    for (const auto& [name, value] : extra)
        log << "method," << step << "," << epoch << "," << elapsed << ",,,,,,,," << name << "," << value << "\n";
}

std::string TrainingInterval::progressLine(int64_t step, int64_t totalSteps, double epoch, double elapsed,
                                           const NamedValues& lastEval, double secondsToStop) const {
    const double perStep = elapsed / double(step), toEnd = perStep * double(totalSteps - step);
    std::ostringstream line;
    line << "step " << step << "/" << totalSteps << " (epoch " << std::fixed << std::setprecision(2) << epoch << ")  loss "
         << std::setprecision(4) << meanLoss() << "  lr " << std::scientific << std::setprecision(2) << learningRate
         << std::defaultfloat << "  " << std::fixed << std::setprecision(0) << samplesPerSecond() << " samples/s  ETA "
         << formatDuration(toEnd);
    if (secondsToStop < toEnd)
        line << " (stops for its limit in " << formatDuration(std::max(0.0, secondsToStop)) << ")";
    if (skipped > 0)
        line << "  skipped " << skipped;
    if (masked > 0)
        line << "  masked " << masked;
    if (!lastEval.empty()) {
        // The headline figures of the latest evaluation: the ESS values and the test NLL.
        line << "  |";
        for (const auto& item : lastEval)
            if (item.first == "test_nll" || item.first == "reverse_ess" || item.first == "ais_ess")
                line << " " << item.first << " " << std::defaultfloat << std::setprecision(4) << item.second;
    }
    return line.str();
}

} // namespace bg
