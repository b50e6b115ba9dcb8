#include "bg/TrainingDriver.h"
#include "bg/TrainingMethodFactory.h"

#include "bg/Checksum.h"
#include "bg/ModelAdapters.h"
#include "bg/DistributedTraining.h"
#include "bg/NpyIO.h"
#include "bg/TrainingState.h"

#include "TrainingInterval.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <stdexcept>

namespace bg {

namespace fs = std::filesystem;

static uint64_t splitMix64(uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t evaluationSeed(uint64_t seed, int64_t step) {
    return splitMix64(splitMix64(seed) ^ splitMix64(uint64_t(step) + 0x5eedULL));
}

TrainingDriver::TrainingDriver(std::shared_ptr<GenerativeModel> model, const TrainingConfig& config, std::unique_ptr<TrainingMethod> method,
                               torch::Tensor testData, Target* target, DriverOptions options)
        : model(std::move(model)), config(config), method(std::move(method)), testData(std::move(testData)), target(target),
          options(std::move(options)), generator(at::make_generator<at::CPUGeneratorImpl>(config.seed)) {
    this->config.validate();
    if (!this->model)
        throw std::invalid_argument("TrainingDriver: no model");
    if (!this->method)
        throw std::invalid_argument("TrainingDriver: no training method");
    if (this->method->modelKind() != this->model->kind())
        throw std::invalid_argument("TrainingDriver: method '" + this->method->name() + "' trains " + modelKindName(this->method->modelKind()) +
                                    ", but the model is " + modelKindName(this->model->kind()));
    if (this->options.outputDirectory.empty())
        throw std::invalid_argument("TrainingDriver: no output directory");
    if (this->config.device != "cpu") {
        if (!torch::cuda::is_available())
            throw std::invalid_argument("TrainingDriver: device \"" + this->config.device + "\" requested, but LibTorch sees no CUDA device");
        this->model->to(torch::Device(this->config.device));
    }
    if (this->options.distributed)
        joinDistributedRun();
    const int64_t calls = this->method->callsPerEpoch();
    if (calls < 1)
        throw std::invalid_argument("TrainingDriver: the method makes no steps per epoch");
    totalSteps = config.epochs * calls;
    const int64_t updatesPerEpoch = calls * this->method->updatesPerCall();
    optimizer = createOptimizer(*this->model, config, updatesPerEpoch);
    if (this->options.distributed)
        averageGradientsOverRanks(*optimizer, this->options.distributed);
    if (!this->options.distributed || this->options.distributed->isMain())
        fs::create_directories(this->options.outputDirectory);
}

TrainingDriver::TrainingDriver(AugmentedCouplingFlow flow, const TrainingConfig& config, std::unique_ptr<TrainingMethod> method,
                               torch::Tensor testData, Target* target, DriverOptions options)
        : TrainingDriver(std::make_shared<CouplingFlowModel>(flow), config, std::move(method), std::move(testData), target, std::move(options)) {}

AugmentedCouplingFlow& TrainingDriver::getFlow() {
    return couplingFlowOf(*model, "TrainingDriver::getFlow");
}

std::string TrainingDriver::outputPath(const std::string& name) const {
    return (fs::path(options.outputDirectory) / name).string();
}

std::ostream& TrainingDriver::out() {
    return options.progress != nullptr ? *options.progress : std::cout;
}

void TrainingDriver::openLog(bool append) {
    // Only rank 0 of a data-parallel run writes the log; elsewhere the stream stays closed and
    // ignores what is written to it.
    if (logOpen || (options.distributed && !options.distributed->isMain()))
        return;
    const std::string path = outputPath("train-log.csv");
    const bool hasContent = append && fs::exists(path) && fs::file_size(path) > 0;
    log.open(path, append ? std::ios::app : std::ios::trunc);
    if (!log)
        throw std::runtime_error("TrainingDriver: cannot write " + path);
    if (!hasContent)
        log << "kind,step,epoch,elapsed_s,loss,grad_norm,lr,skipped,clipped,masked,samples_per_s,metric,value\n";
    log << std::setprecision(10);
    logOpen = true;
}

// checkpoint.pt: "BGCKPT1\n" <archive length> " " <CRC-32 of the archive, 8 hex digits> "\n" followed
// by the torch archive (saveTrainingState() keys plus "counters" and "elapsed"). Files without the
// header (written before the checksum) are read as a bare archive.
static const std::string checkpointMagic = "BGCKPT1\n";

void TrainingDriver::writeCheckpoint() {
    torch::serialize::OutputArchive archive;
    if (options.distributed && !gatherRankStates(archive))
        return;   // not rank 0: its state went to rank 0, which writes the files
    saveTrainingState(archive, *model, optimizer.get(), method.get(), generator);
    archive.write("counters", torch::tensor({step, totalSteps}, torch::kInt64));
    archive.write("elapsed", torch::tensor({elapsed}, torch::kFloat64));
    std::ostringstream bytes;
    archive.save_to(bytes);
    const std::string data = bytes.str();
    const std::string path = outputPath("checkpoint.pt"), temporary = path + ".tmp";
    {
        std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
        file << checkpointMagic << data.size() << " " << checksumToHex(checksum(data)) << "\n";
        file.write(data.data(), data.size());
        file.close();
        if (!file)
            throw std::runtime_error("TrainingDriver: cannot write " + temporary);
    }
    fs::rename(temporary, path);
    const std::string modelPath = outputPath("model.bgflow"), modelTemporary = modelPath + ".tmp";
    model->saveToFile(modelTemporary);
    fs::rename(modelTemporary, modelPath);
}

/** The torch archive bytes of a checkpoint.pt file, checksum verified; throws std::runtime_error. */
static std::string readCheckpointArchive(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    if (!file)
        throw std::runtime_error("cannot open the file");
    std::stringstream buffer;
    buffer << file.rdbuf();
    const std::string bytes = buffer.str();
    if (bytes.compare(0, checkpointMagic.size(), checkpointMagic) != 0) {
        if (bytes.compare(0, 2, "PK") == 0)
            return bytes;   // a bare zip archive, written before the checksum was added
        throw std::runtime_error("the file is not a checkpoint (unknown header): the checkpoint is corrupted");
    }
    const size_t lineEnd = bytes.find('\n', checkpointMagic.size());
    std::istringstream header(bytes.substr(checkpointMagic.size(), lineEnd == std::string::npos ? 0 : lineEnd - checkpointMagic.size()));
    uint64_t length = 0;
    std::string sumText;
    uint32_t expected = 0;
    try {
        if (lineEnd == std::string::npos || !(header >> length >> sumText))
            throw std::invalid_argument("no length and checksum");
        expected = checksumFromHex(sumText);
    }
    catch (const std::invalid_argument&) {
        throw std::runtime_error("malformed header: the checkpoint is corrupted");
    }
    const size_t available = bytes.size() - (lineEnd + 1);
    if (available < length)
        throw std::runtime_error("truncated (" + std::to_string(available) + " of " + std::to_string(length) +
                                 " bytes): the checkpoint is corrupted");
    if (available > length || checksum(bytes.data() + lineEnd + 1, length) != expected)
        throw std::runtime_error("checksum mismatch: the checkpoint is corrupted");
    return bytes.substr(lineEnd + 1);
}

void TrainingDriver::resumeFromCheckpoint() {
    const std::string path = outputPath("checkpoint.pt");
    auto readFile = [&path] {
        if (!fs::exists(path))
            throw std::runtime_error("TrainingDriver: no checkpoint to resume from at " + path);
        try {
            return readCheckpointArchive(path);
        }
        catch (const std::exception& e) {
            throw std::runtime_error("TrainingDriver: cannot resume from " + path + ": " + e.what());
        }
    };
    // A data-parallel run: rank 0 reads the file (the others need not see it) and sends the bytes.
    const std::string archiveBytes = options.distributed ? runOnMainRank(*options.distributed, readFile) : readFile();
    try {
        std::istringstream bytes(archiveBytes);
        torch::serialize::InputArchive archive;
        archive.load_from(bytes);
        const TrainingStateContents contents = readTrainingStateContents(archive);
        if (contents.methodName != method->name())
            throw std::runtime_error("the checkpoint was written by method '" + contents.methodName + "', not '" + method->name() + "'");
        if (contents.flowConfig != model->configJson())
            throw std::runtime_error("the checkpoint's model configuration differs from this run's");
        torch::Tensor counters, seconds;
        archive.read("counters", counters);
        archive.read("elapsed", seconds);
        if (counters[1].item<int64_t>() != totalSteps)
            throw std::runtime_error("the checkpoint's run has " + std::to_string(counters[1].item<int64_t>()) + " steps, this one " +
                                     std::to_string(totalSteps) + " (different epochs, batch size, data or number of ranks?)");
        loadTrainingState(archive, *model, optimizer.get(), method.get(), generator);
        step = counters[0].item<int64_t>();
        elapsed = seconds[0].item<double>();
        if (options.distributed)
            restoreRankState(archive);
    }
    catch (const c10::Error& e) {
        throw std::runtime_error("TrainingDriver: cannot read " + path + ": " + e.what_without_backtrace());
    }
    catch (const std::exception& e) {
        throw std::runtime_error("TrainingDriver: cannot resume from " + path + ": " + e.what());
    }
    openLog(true);
}

void TrainingDriver::logEval(const NamedValues& values) {
    openLog(true);
    const int64_t calls = method->callsPerEpoch();
    for (const auto& [metric, value] : values)
        log << "eval," << step << "," << double(step) / double(calls) << "," << elapsed << ",,,,,,,," << metric << "," << value << "\n";
    log.flush();
}

NamedValues TrainingDriver::evaluate(bool final) {
    if (!options.distributed)
        return evaluateHere(final);
    // Rank 0 evaluates; the others wait for its figures.
    return decodeNamedValues(runOnMainRank(*options.distributed, [&] { return encodeNamedValues(evaluateHere(final)); }));
}

NamedValues TrainingDriver::evaluateHere(bool final) {
    torch::Generator evalGenerator = at::make_generator<at::CPUGeneratorImpl>(evaluationSeed(config.seed, step));
    EvaluationOptions eo;
    eo.flowSamples = config.evalFlowSamples;
    eo.testSamples = config.evalTestSamples;
    eo.batchSize = config.evalBatchSize;
    eo.marginalDraws = config.marginalDraws;
    eo.weightDraws = config.evalWeightDraws;
    EvaluationSamples samples;
    NamedValues values = evaluateFlow(*model, testData, target, eo, evalGenerator, &samples);
    NamedValues extra = method->evaluate(*model, evalGenerator);
    values.insert(values.end(), extra.begin(), extra.end());
    if (evaluationHook && samples.x.defined()) {
        torch::NoGradGuard noGrad;
        NamedValues hooked = evaluationHook(*model, samples);
        values.insert(values.end(), hooked.begin(), hooked.end());
    }
    logEval(values);
    if (final && samples.x.defined()) {
        writeNpy(outputPath("samples.npy"), samples.x);
        if (samples.logWeights.defined())
            writeNpy(outputPath("sample-logweights.npy"), samples.logWeights);
    }
    lastEval = values;
    return values;
}

namespace {

/**
 * Seconds until run() stops for --stop-after or --max-minutes (infinite without a limit), from the
 * mean step time so far (s) and the wall time since the run's start.
 */
double secondsToLimit(const DriverOptions& options, double secondsPerStep, std::chrono::steady_clock::time_point start, int64_t stepsThisRun) {
    double seconds = INFINITY;
    if (options.stopAfter > 0)
        seconds = secondsPerStep * double(options.stopAfter - stepsThisRun);
    if (options.maxMinutes > 0)
        seconds = std::min(seconds, 60.0 * options.maxMinutes - std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    return seconds;
}

} // namespace

std::string TrainingDriver::stopReason(std::chrono::steady_clock::time_point start, int64_t stepsThisRun) {
    if (options.stopAfter > 0 && stepsThisRun >= options.stopAfter)
        return "stop-after";
    // The time limit is a joint decision of the ranks (anyRank), so that they stop at the same step.
    if (options.maxMinutes > 0 &&
        anyRank(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >= 60.0 * options.maxMinutes))
        return "time limit";
    return "";
}

void TrainingDriver::evaluateDuringRun() {
    NamedValues values = evaluate(false);
    if (!options.quiet && !values.empty()) {
        std::ostringstream line;
        line << "eval at step " << step << ":";
        for (const auto& [name, value] : values)
            line << "  " << name << " " << std::setprecision(5) << value;
        out() << line.str() << std::endl;
    }
}

RunResult TrainingDriver::run() {
    using Clock = std::chrono::steady_clock;
    openLog(step > 0);
    const int64_t calls = method->callsPerEpoch();
    const auto start = Clock::now();
    int64_t stepsThisRun = 0;
    RunResult result;
    result.totalSteps = totalSteps;
    TrainingInterval interval;   // the figures of the next 'train' row
    std::string stopped = "finished";
    // The method's own progress lines go to this driver's stream for the length of run() only.
    struct ReporterReset {
        TrainingMethod& method;
        ~ReporterReset() {
            method.setProgressReporter({});
        }
    } reporterReset{*method};
    if (!options.quiet)
        method->setProgressReporter([this](const std::string& line) { out() << line << std::endl; });
    while (step < totalSteps) {
        const std::string reason = stopReason(start, stepsThisRun);
        if (!reason.empty()) {
            stopped = reason;
            break;
        }
        const auto t0 = Clock::now();
        StepStats stats = method->step(*model, *optimizer, generator);
        if (options.distributed)
            stats = reduceStepStats(*options.distributed, stats);
        const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
        step++;
        stepsThisRun++;
        elapsed += seconds;
        interval.add(stats, seconds);
        if (step % config.logEvery == 0 || step == totalSteps) {
            const double epoch = double(step) / double(calls);
            interval.writeLogRows(log, step, epoch, elapsed, stats.extra);
            log.flush();
            if (!options.quiet)
                out() << interval.progressLine(step, totalSteps, epoch, elapsed, lastEval, secondsToLimit(options, elapsed / double(step), start, stepsThisRun)) << std::endl;
            interval.reset();
        }
        if (config.checkpointEvery > 0 && step % config.checkpointEvery == 0 && step < totalSteps)
            writeCheckpoint();
        if (config.evalEvery > 0 && step % config.evalEvery == 0 && step < totalSteps)
            evaluateDuringRun();
    }
    if (step >= totalSteps) {
        result.finalMetrics = evaluate(true);
        result.finished = true;
    }
    writeCheckpoint();
    result.step = step;
    result.stopReason = step >= totalSteps ? "finished" : stopped;
    return result;
}

} // namespace bg
