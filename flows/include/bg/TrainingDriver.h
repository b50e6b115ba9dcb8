#ifndef BG_TRAINING_DRIVER_H_
#define BG_TRAINING_DRIVER_H_

#include "bg/AugmentedCouplingFlow.h"
#include "bg/DistributedContext.h"
#include "bg/Evaluation.h"
#include "bg/GenerativeModel.h"
#include "bg/Optimizer.h"
#include "bg/Target.h"
#include "bg/TrainingConfig.h"
#include "bg/TrainingMethod.h"

#include <torch/types.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>

namespace bg {

/** How a TrainingDriver runs, besides the TrainingConfig. */
struct DriverOptions {
    std::string outputDirectory;     ///< created if missing; receives checkpoint.pt, model.bgflow, train-log.csv, samples
    bool quiet = false;              ///< no progress lines
    double maxMinutes = 0.0;         ///< stop (with a checkpoint) once a run() call has trained this long; 0 = no limit
    int64_t stopAfter = 0;           ///< stop (with a checkpoint) after this many steps of one run() call; 0 = no limit
    std::ostream* progress = nullptr; ///< where progress lines go (nullptr = std::cout)
    /**
     * Null: one process. Else this process's membership of a data-parallel run
     * (DistributedContext::fromEnvironment()); every rank constructs its driver with the same
     * configuration and calls the same methods (see "Data-parallel runs" below).
     */
    std::shared_ptr<DistributedContext> distributed;
};

/** How a TrainingDriver::run() call ended. */
struct RunResult {
    int64_t step = 0;          ///< steps completed in total
    int64_t totalSteps = 0;    ///< steps of the whole run
    bool finished = false;     ///< all steps done (the final evaluation ran)
    std::string stopReason;    ///< "finished", "time limit" or "stop-after"
    NamedValues finalMetrics;  ///< the last evaluation's figures (empty if none ran)
};

/**
 * Extra figures computed from an evaluation's flow samples (e.g. alanine dipeptide Ramachandran
 * divergences); called after evaluateFlow() at every evaluation.
 */
using EvaluationHook = std::function<NamedValues(GenerativeModel& model, const EvaluationSamples& samples)>;

/**
 * Runs a TrainingMethod on a model of either kind (bg/GenerativeModel.h; the method must train
 * that kind, TrainingMethod::modelKind()): owns the model, a SkipClipAdam whose schedule comes from the
 * TrainingConfig (total updates = epochs x callsPerEpoch x updatesPerCall, warm-up likewise) and a
 * CPU torch::Generator seeded from config.seed, and calls method->step() until all
 * epochs x callsPerEpoch steps are done or a stop condition is met.
 *
 * Output directory:
 *  - checkpoint.pt: model weights, optimiser, method state, generator state (saveTrainingState(),
 *    bg/TrainingState.h) and counters, a torch archive behind a "BGCKPT1" header with its length and
 *    CRC-32 checksum, written atomically (temporary file + rename) every config.checkpointEvery
 *    steps and when run() stops; resumeFromCheckpoint() verifies the checksum and continues a run
 *    bitwise identically on the CPU (bare archives written before the header are still read);
 *  - model.bgflow: the model (GenerativeModel::save(): saveFlow bytes for the E-ACF, saveCnf bytes
 *    for the E-CNF; loadModelFromFile() reads either), written with every checkpoint;
 *  - train-log.csv: columns kind,step,epoch,elapsed_s,loss,grad_norm,lr,skipped,clipped,masked,
 *    samples_per_s,metric,value; 'train' rows every config.logEvery steps (means over the interval),
 *    'eval' rows one per metric;
 *  - samples.npy [n, N, D] (nm) and sample-logweights.npy [n] from the final evaluation's flow samples.
 *
 * Evaluations (evaluateFlow(), the same figures for both kinds) run every config.evalEvery steps and at the end; each uses its own generator seeded
 * from (config.seed, step), so evaluating never changes the training random stream.
 *
 * Data-parallel runs (options.distributed, docs/distributed.md): the method splits its work over the
 * ranks (TrainingMethod::setDistributed()), the optimiser averages the gradients over the ranks
 * before its norm, skip and clip decisions, so all ranks keep identical parameters; each rank's
 * generator is seeded config.seed + rank (or config.seed on all ranks, per
 * TrainingMethod::generatorPerRank()). The logged loss, masked and sample counts are reduced over the
 * ranks; the time limit is a joint decision. Rank 0 alone writes the output directory, evaluates
 * (the other ranks wait and receive its figures) and writes checkpoint.pt, which then also holds
 * every rank's method state and generator ("distributedRanks", "rankState<r>"); writeCheckpoint(),
 * evaluate() and resumeFromCheckpoint() must be called on every rank. Resuming with the same number
 * of ranks continues bitwise on the CPU; with another number, rank r takes the saved state of rank
 * r mod (saved ranks), ranks without a saved generator are re-seeded, and rank 0 prints a note of
 * what was re-initialised (getResumeNote()).
 */
class TrainingDriver {
public:
    /**
     * @param model     the model to train (shared: the caller may keep a handle)
     * @param config    validated training configuration
     * @param method    the training method, one that trains model->kind()
     * @param testData  test configurations [n, N, D] (nm) for evaluations, or an undefined tensor
     * @param target    the target density for ESS figures, or nullptr; must outlive the driver
     * @throws std::invalid_argument for a missing model or method, a method of another model kind,
     *         no output directory, or a CUDA device that LibTorch does not see
     */
    TrainingDriver(std::shared_ptr<GenerativeModel> model, const TrainingConfig& config, std::unique_ptr<TrainingMethod> method,
                   torch::Tensor testData, Target* target, DriverOptions options);
    /** The driver of an E-ACF (flow: shared handle, wrapped in a CouplingFlowModel). */
    TrainingDriver(AugmentedCouplingFlow flow, const TrainingConfig& config, std::unique_ptr<TrainingMethod> method, torch::Tensor testData,
                   Target* target, DriverOptions options);
    /**
     * Restore the state written to checkpoint.pt in the output directory. Throws std::runtime_error
     * if there is none, it is unreadable, truncated or corrupted ("... the checkpoint is corrupted"),
     * or it belongs to another method, model configuration (or kind) or number of steps.
     */
    void resumeFromCheckpoint();
    /** Train until all steps are done or a stop condition is met; writes a checkpoint at the end. */
    RunResult run();
    /** Evaluate now (logged as 'eval' rows); final = also write the sample files. */
    NamedValues evaluate(bool final);
    /** Add figures to every evaluation. */
    void setEvaluationHook(EvaluationHook hook) {
        evaluationHook = std::move(hook);
    }
    /** Write checkpoint.pt and model.bgflow now. */
    void writeCheckpoint();
    int64_t getStep() const {
        return step;
    }
    int64_t getTotalSteps() const {
        return totalSteps;
    }
    GenerativeModel& getModel() {
        return *model;
    }
    /** The E-ACF being trained; throws std::invalid_argument if the model is an E-CNF. */
    AugmentedCouplingFlow& getFlow();
    SkipClipAdam& getOptimizer() {
        return *optimizer;
    }
    TrainingMethod& getMethod() {
        return *method;
    }
    torch::Generator& getGenerator() {
        return generator;
    }
    /** The path of a file in the output directory. */
    std::string outputPath(const std::string& name) const;
    /** What the last resumeFromCheckpoint() re-initialised (a run with another number of ranks); empty if nothing. */
    const std::string& getResumeNote() const {
        return resumeNote;
    }

private:
    NamedValues evaluateHere(bool final);
    // Data-parallel parts (TrainingDriverDistributed.cpp).
    void joinDistributedRun();
    bool anyRank(bool flag);
    bool gatherRankStates(torch::serialize::OutputArchive& archive);
    void restoreRankState(torch::serialize::InputArchive& archive);
    void openLog(bool append);
    /** Why run() must stop before the next step ("stop-after", "time limit"), or "" to go on. */
    std::string stopReason(std::chrono::steady_clock::time_point start, int64_t stepsThisRun);
    /** An evaluation between steps, with its progress line. */
    void evaluateDuringRun();
    void logEval(const NamedValues& values);
    std::ostream& out();
    std::shared_ptr<GenerativeModel> model;
    TrainingConfig config;
    std::unique_ptr<TrainingMethod> method;
    torch::Tensor testData;
    Target* target;
    DriverOptions options;
    std::unique_ptr<SkipClipAdam> optimizer;
    torch::Generator generator;
    EvaluationHook evaluationHook;
    int64_t step = 0, totalSteps = 0;
    double elapsed = 0.0;   // training seconds over all run() calls (evaluations excluded)
    bool logOpen = false;
    std::ofstream log;
    NamedValues lastEval;
    std::string resumeNote;
};

/** The seed of the evaluation generator at a step: a mix of the run's seed and the step. */
uint64_t evaluationSeed(uint64_t seed, int64_t step);

} // namespace bg

#endif
