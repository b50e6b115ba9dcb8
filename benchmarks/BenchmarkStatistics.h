#ifndef OPENMMBG_BENCHMARKS_BENCHMARK_STATISTICS_H_
#define OPENMMBG_BENCHMARKS_BENCHMARK_STATISTICS_H_

// Summary statistics shared by the timed benchmark programs.

#include <algorithm>
#include <vector>

/** The median of a non-empty list of timings. */
inline double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    const size_t n = values.size();
    return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

#endif
