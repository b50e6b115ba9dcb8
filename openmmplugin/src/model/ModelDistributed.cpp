// Data-parallel training of the per-Context model (BoltzmannGeneratorForce::setDistributedTraining()):
// the process's one DistributedContext, joining it, and the generator each method draws from.

#include "bg/DistributedTraining.h"
#include "bg/TrainingState.h"
#include "internal/BoltzmannGeneratorModelState.h"
#include "openmm/OpenMMException.h"

#include <torch/torch.h>

#include <mutex>
#include <sstream>

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

namespace {

/**
 * The process's membership of the launcher's run, created by the first Context that joins (with its
 * timeout) and shared by all Contexts: rank 0 serves the rendezvous store on MASTER_PORT, which a
 * second context in the same process could not open again. It is never destroyed: tearing down the
 * store and Gloo's threads during static destruction at exit could wait for peers that are
 * finishing too; the operating system closes the connections instead.
 */
shared_ptr<bg::DistributedContext> processDistributedContext(double timeoutSeconds) {
    static mutex guard;
    static shared_ptr<bg::DistributedContext>* context = nullptr;
    lock_guard<mutex> lock(guard);
    if (context == nullptr) {
        try {
            context = new shared_ptr<bg::DistributedContext>(bg::DistributedContext::fromEnvironment(timeoutSeconds));
        }
        catch (const exception& e) {
            throw OpenMMException(string("BoltzmannGeneratorForce: distributed training is on (setDistributedTraining(true)), but this "
                                         "process could not join a data-parallel run: ") +
                                  e.what() + "; or turn distributed training off");
        }
    }
    return *context;
}

/** Every rank takes rank 0's bytes; errors become OpenMMExceptions naming the force. */
string broadcastFromMainRank(bg::DistributedContext& context, const string& bytes) {
    try {
        return context.broadcast(bytes);
    }
    catch (const exception& e) {
        throw OpenMMException(string("BoltzmannGeneratorForce: joining the data-parallel run failed: ") + e.what());
    }
}

}   // namespace

torch::Generator& BoltzmannGeneratorModel::State::generatorFor(const bg::TrainingMethod& method) {
    if (distributed == nullptr || !method.generatorPerRank())
        return generator;
    if (!rankGenerator.defined())
        rankGenerator = bg::rankGenerator(seed + 1, method, *distributed);
    return rankGenerator;
}

void BoltzmannGeneratorModel::joinDistributedRun() {
    if (!distributedTraining || state->distributed != nullptr)
        return;
    shared_ptr<bg::DistributedContext> context = processDistributedContext(distributedTimeout);
    // Rank 0's flow, generator and seed on every rank, so that the ranks start alike even when each
    // Context drew its own seed (seed 0) or was given other weights.
    torch::serialize::OutputArchive archive;
    bg::saveTrainingState(archive, *state->model, nullptr, nullptr, state->generator);
    archive.write("seed", torch::tensor({int64_t(state->seed)}, torch::kInt64));
    ostringstream bytes;
    archive.save_to(bytes);
    const string received = broadcastFromMainRank(*context, context->isMain() ? bytes.str() : string());
    if (!context->isMain()) {
        try {
            torch::serialize::InputArchive mainState;
            istringstream in(received);
            mainState.load_from(in);
            bg::loadTrainingState(mainState, *state->model, nullptr, nullptr, state->generator);
            torch::Tensor seed;
            mainState.read("seed", seed);
            state->seed = uint64_t(seed.item<int64_t>());
        }
        catch (const exception& e) {
            throw OpenMMException(string("BoltzmannGeneratorForce: rank ") + to_string(context->rank()) +
                                  " cannot take rank 0's flow (do all ranks build the same force?): " + e.what());
        }
        parameterVersion++;
    }
    state->distributed = context;
    // A FAB state read from a checkpoint before joining takes part from now on.
    if (state->fab != nullptr) {
        state->fab->setDistributed(context);
        bg::averageGradientsOverRanks(*state->fabOptimizer, context);
    }
    if (state->mlOptimizer != nullptr)
        bg::averageGradientsOverRanks(*state->mlOptimizer, context);
}
