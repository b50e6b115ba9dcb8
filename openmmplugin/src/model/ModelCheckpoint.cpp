// Checkpoints of the per-Context model: flow, generator and training state in one block.

#include "bg/TrainingState.h"
#include "internal/ArchiveBlock.h"
#include "internal/BoltzmannGeneratorModelState.h"
#include "openmm/OpenMMException.h"
#include "openmm/internal/ContextImpl.h"

#include <torch/torch.h>

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

void BoltzmannGeneratorModel::saveState(ostream& stream) {
    // Flow, generator and (once FAB has run) the FAB method and optimiser through the training-state
    // serialiser the TrainingDriver uses; the counters and the maximum-likelihood optimiser beside them.
    torch::serialize::OutputArchive archive;
    bg::saveTrainingState(archive, *state->model, state->fabOptimizer.get(), state->fab.get(), state->generator);
    archive.write("counters",
                  torch::tensor({state->fabIterations, state->mlUpdates, int64_t(state->mlOptimizer != nullptr ? 1 : 0)}, torch::kInt64));
    if (state->mlOptimizer != nullptr) {
        torch::serialize::OutputArchive optimizerArchive;
        state->mlOptimizer->save(optimizerArchive);
        archive.write("mlOptimizer", optimizerArchive);
    }
    if (state->rankGenerator.defined())   // FAB's own stream of this rank in a data-parallel run
        archive.write("rankGenerator", state->rankGenerator.get_state());
    writeArchiveBlock(stream, archive);
}

void BoltzmannGeneratorModel::loadState(ContextImpl& context, istream& stream) {
    readArchiveBlock(stream, "flow state", [&](torch::serialize::InputArchive& archive, const string& data) {
        const bg::TrainingStateContents contents = bg::readTrainingStateContents(archive);
        if (!contents.methodName.empty() && state->fab == nullptr) {
            refreshTarget(context);
            ensureFab();
        }
        else if (contents.methodName.empty()) {
            state->fab.reset();
            state->fabOptimizer.reset();
        }
        bg::loadTrainingState(archive, *state->model, state->fabOptimizer.get(), state->fab.get(), state->generator);
        torch::Tensor counters;
        archive.read("counters", counters);
        state->fabIterations = counters[0].item<int64_t>();
        state->mlUpdates = counters[1].item<int64_t>();
        torch::Tensor rankGeneratorState;
        state->rankGenerator = torch::Generator();
        if (archive.try_read("rankGenerator", rankGeneratorState)) {
            state->rankGenerator = at::detail::createCPUGenerator(0);
            state->rankGenerator.set_state(rankGeneratorState);
        }
        parameterVersion++;
        state->pendingMlOptimizer.clear();
        if (counters[2].item<int64_t>() == 0)
            state->mlOptimizer.reset();
        else if (state->mlOptimizer != nullptr) {
            torch::serialize::InputArchive optimizerArchive;
            archive.read("mlOptimizer", optimizerArchive);
            state->mlOptimizer->load(optimizerArchive);
        }
        else
            state->pendingMlOptimizer = data;
    });
}
