#ifndef BG_MODEL_ADAPTERS_H_
#define BG_MODEL_ADAPTERS_H_

// The GenerativeModel interface (bg/GenerativeModel.h) over the two model classes: thin adapters
// that hold the model's shared handle, so the adapter and other holders see the same parameters.

#include "bg/AugmentedCouplingFlow.h"
#include "bg/EquivariantCnf.h"
#include "bg/GenerativeModel.h"

#include <stdexcept>
#include <string>
#include <utility>

namespace bg {

namespace detail {

// What the adapters do per model class (flows/src/ModelAdapters.cpp), as overloads.

const char* modelKindOf(const AugmentedCouplingFlow& flow);
const char* modelKindOf(const EquivariantCnf& cnf);
ModelSample sampleModel(AugmentedCouplingFlow& flow, int64_t n, torch::Generator& generator);
ModelSample sampleModel(EquivariantCnf& cnf, int64_t n, torch::Generator& generator);
ModelDensity proposalLogProbOf(AugmentedCouplingFlow& flow, const torch::Tensor& x, torch::Generator& generator);
ModelDensity proposalLogProbOf(EquivariantCnf& cnf, const torch::Tensor& x, torch::Generator& generator);
torch::Tensor marginalLogProbOf(AugmentedCouplingFlow& flow, const torch::Tensor& x, int numDraws, torch::Generator& generator);
torch::Tensor marginalLogProbOf(EquivariantCnf& cnf, const torch::Tensor& x, int numDraws, torch::Generator& generator);
std::string saveModel(AugmentedCouplingFlow& flow);
std::string saveModel(EquivariantCnf& cnf);

} // namespace detail

/**
 * A model class as a GenerativeModel: holds the model's shared handle (Holder: AugmentedCouplingFlow
 * or EquivariantCnf, whose getConfig() has numParticles, dimension, dtype and toJson(), and whose
 * module has device()), so the adapter and other holders see the same parameters.
 *
 * - The E-ACF (CouplingFlowModel, kind "eacf"): sample() is flow->sample() with log pi(a|x) of its
 *   a; proposalLogProb() draws a ~ pi(a|x) and gives log q(x, a) and log pi(a|x); marginalLogProb()
 *   is the flow's importance-weighted estimate; save() gives saveFlow() bytes.
 * - The E-CNF (CnfModel, kind "ecnf"), with the model's solver and divergence settings: sample() is
 *   cnf->sample() with log q(x) (no augmented variables); proposalLogProb() and marginalLogProb() are
 *   both the exact log q(x) by the ODE from t = 1 to 0 (numDraws unused); save() gives saveCnf() bytes.
 */
template <class Holder>
class ModelAdapter : public GenerativeModel {
public:
    /** @throws std::invalid_argument("<kind> model: no model") for an empty handle */
    explicit ModelAdapter(Holder handle) : model(std::move(handle)), modelKind(detail::modelKindOf(model)) {
        if (!model)
            throw std::invalid_argument(modelKind + " model: no model");
    }
    /** The adapted model (the shared handle). */
    Holder& get() {
        return model;
    }
    std::string kind() const override {
        return modelKind;
    }
    std::string configJson() const override {
        return model->getConfig().toJson();
    }
    int numParticles() const override {
        return model->getConfig().numParticles;
    }
    int dimension() const override {
        return model->getConfig().dimension;
    }
    torch::ScalarType dtype() const override {
        return model->getConfig().dtype == "float64" ? torch::kFloat64 : torch::kFloat32;
    }
    torch::Device device() const override {
        return model->device();
    }
    torch::nn::Module& module() override {
        return *model;
    }
    ModelSample sample(int64_t n, torch::Generator& generator) override {
        return detail::sampleModel(model, n, generator);
    }
    ModelDensity proposalLogProb(const torch::Tensor& x, torch::Generator& generator) override {
        return detail::proposalLogProbOf(model, x, generator);
    }
    torch::Tensor marginalLogProb(const torch::Tensor& x, int numDraws, torch::Generator& generator) override {
        return detail::marginalLogProbOf(model, x, numDraws, generator);
    }
    std::string save() override {
        return detail::saveModel(model);
    }

private:
    Holder model;
    std::string modelKind;
};

/** The E-ACF as a GenerativeModel (kind "eacf"); see ModelAdapter. */
using CouplingFlowModel = ModelAdapter<AugmentedCouplingFlow>;
/** The E-CNF as a GenerativeModel (kind "ecnf"); see ModelAdapter. */
using CnfModel = ModelAdapter<EquivariantCnf>;

/**
 * The E-ACF of a model trained or used by `user` (e.g. "FAB (method 'fab')").
 * @throws std::invalid_argument "<user> needs the E-ACF (model 'eacf'), but the model is the E-CNF ('ecnf')" for another kind
 */
AugmentedCouplingFlow& couplingFlowOf(GenerativeModel& model, const std::string& user);
/** The E-CNF of a model used by `user`; throws std::invalid_argument as couplingFlowOf() for another kind. */
EquivariantCnf& cnfOf(GenerativeModel& model, const std::string& user);

} // namespace bg

#endif
