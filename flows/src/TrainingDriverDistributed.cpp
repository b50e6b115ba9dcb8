// The data-parallel parts of TrainingDriver (see "Data-parallel runs" in bg/TrainingDriver.h) and
// the helpers of bg/DistributedTraining.h.
#include "bg/DistributedTraining.h"
#include "bg/TrainingDriver.h"

#include "bg/Checksum.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <iomanip>
#include <sstream>
#include <stdexcept>

namespace bg {

StepStats reduceStepStats(DistributedContext& context, const StepStats& stats) {
    const bool finite = std::isfinite(stats.loss);
    const std::vector<double> sums =
            context.sum({finite ? stats.loss : 0.0, finite ? 1.0 : 0.0, double(stats.masked), double(stats.samples)});
    StepStats reduced = stats;
    reduced.loss = sums[1] > 0 ? sums[0] / sums[1] : NAN;
    reduced.masked = int64_t(std::llround(sums[2]));
    reduced.samples = int64_t(std::llround(sums[3]));
    return reduced;
}

at::Generator rankGenerator(uint64_t seed, const TrainingMethod& method, const DistributedContext& context) {
    return at::make_generator<at::CPUGeneratorImpl>(method.generatorPerRank() ? seed + uint64_t(context.rank()) : seed);
}

void averageGradientsOverRanks(SkipClipAdam& optimizer, std::shared_ptr<DistributedContext> context) {
    if (!context)
        throw std::invalid_argument("averageGradientsOverRanks: no distributed context");
    optimizer.setGradientReducer([context](const std::vector<torch::Tensor>& parameters) { context->averageGradients(parameters); });
}

std::string runOnMainRank(DistributedContext& context, const std::function<std::string()>& work) {
    // One leading byte tells the others whether the rest is the result ('R') or rank 0's error ('E').
    if (context.isMain()) {
        std::string result;
        try {
            result = "R" + work();
        }
        catch (const std::exception& e) {
            context.broadcast(std::string("E") + e.what());
            throw;
        }
        context.broadcast(result);
        return result.substr(1);
    }
    const std::string received = context.broadcast(std::string());
    if (received.empty() || received[0] != 'R')
        throw std::runtime_error("rank 0 failed: " + (received.empty() ? std::string("(no message)") : received.substr(1)));
    return received.substr(1);
}

std::string encodeNamedValues(const NamedValues& values) {
    std::ostringstream text;
    text << std::setprecision(17);
    for (const auto& [name, value] : values)
        text << name << '\t' << value << '\n';
    return text.str();
}

NamedValues decodeNamedValues(const std::string& text) {
    NamedValues values;
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        const size_t tab = line.find('\t');
        if (tab == std::string::npos)
            throw std::invalid_argument("decodeNamedValues: a line without a tab");
        values.emplace_back(line.substr(0, tab), std::strtod(line.c_str() + tab + 1, nullptr));
    }
    return values;
}

namespace {

/** CRC-32 over the bytes of all parameters: equal on every rank while the ranks agree. */
uint32_t parameterChecksum(GenerativeModel& model) {
    std::string bytes;
    for (const torch::Tensor& p : model.parameters()) {
        const torch::Tensor c = p.detach().to(torch::kCPU).contiguous();
        bytes.append(static_cast<const char*>(c.data_ptr()), size_t(c.nbytes()));
    }
    return checksum(bytes);
}

std::string archiveBytes(torch::serialize::OutputArchive& archive) {
    std::ostringstream bytes;
    archive.save_to(bytes);
    return bytes.str();
}

torch::Tensor bytesTensor(const std::string& bytes) {
    return torch::from_blob(const_cast<char*>(bytes.data()), {int64_t(bytes.size())}, torch::kUInt8).clone();
}

} // namespace

void TrainingDriver::joinDistributedRun() {
    DistributedContext& context = *options.distributed;
    method->setDistributed(options.distributed);
    generator = rankGenerator(config.seed, *method, context);   // nothing was drawn from it yet
    if (!context.isMain())
        options.quiet = true;
}

bool TrainingDriver::anyRank(bool flag) {
    return options.distributed ? options.distributed->any(flag) : flag;
}

bool TrainingDriver::gatherRankStates(torch::serialize::OutputArchive& archive) {
    DistributedContext& context = *options.distributed;
    torch::serialize::OutputArchive own, methodArchive;
    method->save(methodArchive);
    own.write("method", methodArchive);
    own.write("generator", generator.get_state());
    own.write("parameterChecksum", torch::tensor({int64_t(parameterChecksum(*model))}, torch::kInt64));
    const std::vector<std::string> states = context.gather(archiveBytes(own));
    if (!context.isMain())
        return false;
    const uint32_t reference = parameterChecksum(*model);
    for (int r = 0; r < context.worldSize(); r++) {
        std::istringstream bytes(states[r]);
        torch::serialize::InputArchive state;
        state.load_from(bytes);
        torch::Tensor sum;
        state.read("parameterChecksum", sum);
        if (uint32_t(sum.item<int64_t>()) != reference)
            throw std::runtime_error("TrainingDriver: the parameters of rank " + std::to_string(r) +
                                     " differ from rank 0's: the ranks of the distributed run diverged");
        archive.write("rankState" + std::to_string(r), bytesTensor(states[r]));
    }
    archive.write("distributedRanks", torch::tensor({int64_t(context.worldSize())}, torch::kInt64));
    return true;
}

void TrainingDriver::restoreRankState(torch::serialize::InputArchive& archive) {
    DistributedContext& context = *options.distributed;
    // A checkpoint without rank states comes from one process: rank 0's state is its top level,
    // already restored by loadTrainingState().
    torch::Tensor saved;
    const int64_t savedRanks = archive.try_read("distributedRanks", saved) ? saved[0].item<int64_t>() : 1;
    const int rank = context.rank(), ranks = context.worldSize();
    const int64_t source = rank % savedRanks;
    if (savedRanks > 1) {
        torch::Tensor stateBytes;
        archive.read("rankState" + std::to_string(source), stateBytes);
        std::istringstream bytes(std::string(reinterpret_cast<const char*>(stateBytes.data_ptr<uint8_t>()), size_t(stateBytes.numel())));
        torch::serialize::InputArchive state, methodArchive;
        state.load_from(bytes);
        state.read("method", methodArchive);
        method->load(methodArchive);
        torch::Tensor generatorState;
        state.read("generator", generatorState);
        generator.set_state(generatorState);
    }
    const bool ownGenerator = rank < savedRanks || !method->generatorPerRank();
    if (!ownGenerator)   // a fresh stream of its own, different from every saved one
        generator = at::make_generator<at::CPUGeneratorImpl>(evaluationSeed(config.seed + uint64_t(rank), step));
    resumeNote.clear();
    if (savedRanks != ranks) {
        std::ostringstream note;
        note << "note: the checkpoint was written by " << savedRanks << " rank(s), this run has " << ranks << ":";
        if (ranks > savedRanks)
            note << " ranks " << savedRanks << ".." << ranks - 1 << " start from copies of the method state (replay buffer, AIS step sizes,"
                 << " counters) of ranks 0.." << savedRanks - 1 << " (rank r takes rank r mod " << savedRanks << "'s)"
                 << (method->generatorPerRank() ? " and re-seeded random generators" : "");
        else
            note << " the method states and generators of ranks " << ranks << ".." << savedRanks - 1 << " are dropped";
        note << "; the global batch is now " << ranks << " x the per-rank batch";
        resumeNote = note.str();
        if (context.isMain())
            out() << resumeNote << std::endl;
    }
}

} // namespace bg
