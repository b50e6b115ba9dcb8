#ifndef BG_DISTRIBUTED_TRAINING_H_
#define BG_DISTRIBUTED_TRAINING_H_

#include "bg/DistributedContext.h"
#include "bg/Optimizer.h"
#include "bg/TrainingMethod.h"

#include <ATen/core/Generator.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace bg {

/**
 * The figures of one step reduced over the ranks of a data-parallel run (one all-reduce on the main
 * channel): loss = mean of the ranks' finite losses (NaN if none), masked and samples = sums. The
 * gradient norm, learning rate, update, skip and clip counts are those of the averaged gradient and
 * alike on every rank; extra (e.g. FAB's timings) stays this rank's own.
 */
StepStats reduceStepStats(DistributedContext& context, const StepStats& stats);

/**
 * This rank's random generator for `method` in the run of `context` (a CPU generator): seeded
 * seed + rank when the method wants a stream of its own on every rank (TrainingMethod::
 * generatorPerRank(): FAB's AIS samples), else seed on every rank (one stream shared by the ranks:
 * maximum likelihood's shuffle). Used by TrainingDriver and the plugin's per-Context model alike.
 */
at::Generator rankGenerator(uint64_t seed, const TrainingMethod& method, const DistributedContext& context);

/**
 * Make `optimizer` average its gradients over the ranks of `context` before every update
 * (DistributedContext::averageGradients() as SkipClipAdam's gradient reducer), so that the norm,
 * skip, clip and Adam update are alike on every rank. `context` is kept alive by the optimiser.
 */
void averageGradientsOverRanks(SkipClipAdam& optimizer, std::shared_ptr<DistributedContext> context);

/**
 * Run `work` on rank 0 and return its result on every rank (DistributedContext::broadcast(): the
 * other ranks wait up to mainRankTimeoutSeconds). If `work` throws on rank 0, rank 0 rethrows and the
 * other ranks throw std::runtime_error with rank 0's message, so that no rank is left waiting.
 */
std::string runOnMainRank(DistributedContext& context, const std::function<std::string()>& work);

/** NamedValues as text (one "name<TAB>value" line each, values with 17 significant digits). */
std::string encodeNamedValues(const NamedValues& values);
/** Inverse of encodeNamedValues(). */
NamedValues decodeNamedValues(const std::string& text);

} // namespace bg

#endif
