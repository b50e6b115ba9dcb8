#ifndef BG_TRAINING_CONFIG_H_
#define BG_TRAINING_CONFIG_H_

#include <cstdint>
#include <string>

namespace bg {

/** Learning-rate schedule of a training run, in epochs (model-spec 12.2). */
struct ScheduleConfig {
    double initialLr = 2e-5;   ///< learning rate at the first update
    double peakLr = 2e-4;      ///< learning rate at the end of the warm-up
    double endLr = 2e-5;       ///< learning rate at the end of the run (cosine decay)
    double warmupEpochs = 30;  ///< warm-up length in epochs (ML epochs or FAB iterations)
};

/**
 * Everything that defines a training run besides the flow: method, batch size, length, optimiser,
 * loss masking, evaluation, logging and random seed. Serialises to and from JSON (toJson/fromJson);
 * unknown keys are rejected and validate() throws std::invalid_argument naming the bad field.
 * Defaults are the paper's DW4 maximum-likelihood settings (model-spec 10, 12-14).
 */
struct TrainingConfig {
    std::string method = "ml";         ///< "ml" (maximum likelihood on data), "fab" (both E-ACF) or "fm" (flow matching, E-CNF)
    int64_t batchSize = 32;            ///< samples per optimiser update
    int64_t epochs = 100;              ///< ML epochs, or FAB iterations
    ScheduleConfig schedule;
    double clipFactor = 2.0;           ///< clip the gradient to clipFactor x the median norm
    double ignoreFactor = 10.0;        ///< skip updates above ignoreFactor x the median norm
    int gradNormWindow = 100;          ///< length of the gradient-norm window
    double maskLogProbBelow = -1e4;    ///< samples with log q below this (or non-finite) are masked
    int64_t maxRowsPerPass = 0;        ///< 0: the whole batch in one pass; else gradient accumulation in passes of this many rows
    int64_t evalEvery = 0;             ///< steps between evaluations; 0 = only at the end
    int64_t evalFlowSamples = 10000;   ///< flow samples for the reverse ESS
    int64_t evalTestSamples = 0;       ///< test samples used (0 = all)
    int64_t evalBatchSize = 1000;      ///< rows per evaluation pass
    int marginalDraws = 20;            ///< augmented draws per test point for the marginal NLL
    int evalWeightDraws = 1;           ///< E-ACF: augmented draws behind the weights of reverse_ess_draws (EvaluationOptions::weightDraws; 1 = joint weights only)
    int64_t checkpointEvery = 0;       ///< steps between checkpoints (0 = only when the run stops)
    int64_t logEvery = 10;             ///< steps between 'train' rows of the log
    uint64_t seed = 0;                 ///< seed of the training random generator
    int numThreads = 1;                ///< torch intra-op threads
    /** Where the flow runs: "cpu" or "cuda" / "cuda:<index>"; targets and random numbers stay on the CPU. */
    std::string device = "cpu";
    /** Settings of the FAB method as a JSON object text, parsed by that method ("{}" = defaults). */
    std::string fab = "{}";
    /** Settings of flow matching (FlowMatchingSettings) as a JSON object text ("{}" = defaults). */
    std::string fm = "{}";

    /** Throws std::invalid_argument with a message naming the field if the configuration is unusable. */
    void validate() const;
    std::string toJson() const;
    /** Parse JSON written by toJson(); unknown keys are rejected, missing keys keep their defaults. */
    static TrainingConfig fromJson(const std::string& json);
};

} // namespace bg

#endif
