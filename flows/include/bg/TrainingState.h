#ifndef BG_TRAINING_STATE_H_
#define BG_TRAINING_STATE_H_

#include "bg/AugmentedCouplingFlow.h"
#include "bg/GenerativeModel.h"
#include "bg/Optimizer.h"
#include "bg/TrainingMethod.h"

#include <ATen/core/Generator.h>
#include <torch/serialize/archive.h>

#include <string>

namespace bg {

/**
 * The training state of a model (either kind, bg/GenerativeModel.h) as one unit, shared by
 * everything that checkpoints training (the TrainingDriver's checkpoint.pt and the per-Context model
 * of the OpenMM plugin): the model's weights, the optimiser, the training method's own state and the
 * random generator, so that a resumed run continues bitwise identically on the CPU.
 *
 * Archive keys written by saveTrainingState() (the caller may add keys of its own beside them):
 *  - "flowConfig": the model's configuration, GenerativeModel::configJson() text (a string IValue;
 *    FlowConfig::toJson() for the E-ACF, CnfConfig::toJson() with "model": "ecnf" for the E-CNF);
 *  - "flow": the model's module archive;
 *  - "generator": the generator's state tensor (get_state());
 *  - "optimizer": the SkipClipAdam archive, only when an optimiser is given;
 *  - "methodName" (TrainingMethod::name(), a string IValue) and "method" (its save() archive), only
 *    when a method is given.
 * These are the keys the TrainingDriver's checkpoint.pt has always used.
 */
void saveTrainingState(torch::serialize::OutputArchive& archive, GenerativeModel& model, const SkipClipAdam* optimizer,
                       const TrainingMethod* method, const at::Generator& generator);
/** saveTrainingState() of an E-ACF. */
void saveTrainingState(torch::serialize::OutputArchive& archive, AugmentedCouplingFlow& flow, const SkipClipAdam* optimizer,
                       const TrainingMethod* method, const at::Generator& generator);

/** What an archive written by saveTrainingState() holds, read without restoring anything. */
struct TrainingStateContents {
    std::string flowConfig;   ///< the stored model configuration, normalised (normalisedModelConfig())
    bool hasOptimizer = false;
    std::string methodName;   ///< empty when no method was saved
};

/**
 * Read what a saveTrainingState() archive holds (e.g. to create the optimiser or method before
 * loadTrainingState()). Throws std::runtime_error if the archive lacks the model configuration or
 * it cannot be parsed.
 */
TrainingStateContents readTrainingStateContents(torch::serialize::InputArchive& archive);

/**
 * Restore what saveTrainingState() wrote into existing objects. The model must have the stored
 * configuration (normalised JSON compared, so also the same kind). An optimiser or method given here must have been saved
 * (and the method under the same name); a null optimiser or method leaves the archive's state of it
 * unread, so the caller may restore less than was saved. Nothing is restored unless the checks
 * pass, but a failure while reading the archives themselves (LibTorch's c10::Error) can leave the
 * objects partly restored.
 *
 * Throws std::runtime_error if the model configuration differs, an optimiser or method is given but
 * absent from the archive, or the method name differs; c10::Error from LibTorch for a malformed
 * archive or mismatched tensors.
 */
void loadTrainingState(torch::serialize::InputArchive& archive, GenerativeModel& model, SkipClipAdam* optimizer, TrainingMethod* method,
                       at::Generator& generator);
/** loadTrainingState() into an E-ACF. */
void loadTrainingState(torch::serialize::InputArchive& archive, AugmentedCouplingFlow& flow, SkipClipAdam* optimizer, TrainingMethod* method,
                       at::Generator& generator);

} // namespace bg

#endif
