// Checkpoints of the per-Context model: flow, generator and training state in one block.

#include "internal/BoltzmannGeneratorModelState.h"
#include "internal/CheckpointBlock.h"
#include "openmm/OpenMMException.h"
#include "openmm/internal/ContextImpl.h"

#include <torch/torch.h>

#include <sstream>

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

void BoltzmannGeneratorModel::saveState(ostream& stream) {
    torch::serialize::OutputArchive archive, flowArchive;
    state->flow->save(flowArchive);
    archive.write("flow", flowArchive);
    archive.write("generator", state->generator.get_state());
    archive.write("counters", torch::tensor({state->fabIterations, state->mlUpdates, int64_t(state->fab != nullptr ? 1 : 0),
                                             int64_t(state->mlOptimizer != nullptr ? 1 : 0)},
                                            torch::kInt64));
    if (state->fab != nullptr) {
        torch::serialize::OutputArchive fabArchive, optimizerArchive;
        state->fab->save(fabArchive);
        state->fabOptimizer->save(optimizerArchive);
        archive.write("fab", fabArchive);
        archive.write("fabOptimizer", optimizerArchive);
    }
    if (state->mlOptimizer != nullptr) {
        torch::serialize::OutputArchive optimizerArchive;
        state->mlOptimizer->save(optimizerArchive);
        archive.write("mlOptimizer", optimizerArchive);
    }
    ostringstream bytes;
    archive.save_to(bytes);
    writeCheckpointBlock(stream, bytes.str());
}

void BoltzmannGeneratorModel::loadState(ContextImpl& context, istream& stream) {
    const string data = readCheckpointBlock(stream, "flow state");
    try {
        istringstream bytes(data);
        torch::serialize::InputArchive archive, flowArchive;
        archive.load_from(bytes);
        archive.read("flow", flowArchive);
        state->flow->load(flowArchive);
        torch::Tensor generatorState, counters;
        archive.read("generator", generatorState);
        state->generator.set_state(generatorState);
        archive.read("counters", counters);
        state->fabIterations = counters[0].item<int64_t>();
        state->mlUpdates = counters[1].item<int64_t>();
        parameterVersion++;
        if (counters[2].item<int64_t>() != 0) {
            if (state->fab == nullptr) {
                refreshTarget(context);
                ensureFab();
            }
            torch::serialize::InputArchive fabArchive, optimizerArchive;
            archive.read("fab", fabArchive);
            archive.read("fabOptimizer", optimizerArchive);
            state->fab->load(fabArchive);
            state->fabOptimizer->load(optimizerArchive);
        }
        else {
            state->fab.reset();
            state->fabOptimizer.reset();
        }
        state->pendingMlOptimizer.clear();
        if (counters[3].item<int64_t>() == 0)
            state->mlOptimizer.reset();
        else if (state->mlOptimizer != nullptr) {
            torch::serialize::InputArchive optimizerArchive;
            archive.read("mlOptimizer", optimizerArchive);
            state->mlOptimizer->load(optimizerArchive);
        }
        else
            state->pendingMlOptimizer = data;
    }
    catch (const OpenMMException&) {
        throw;
    }
    catch (const exception& e) {
        throw OpenMMException(string("BoltzmannGeneratorIntegrator: cannot read the flow state of the checkpoint: ") + e.what());
    }
}
