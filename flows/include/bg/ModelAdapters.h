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

/**
 * What both adapters share: the kind, and the shared handle of a model class whose getConfig() has
 * numParticles, dimension and dtype ("float32" | "float64") and toJson(), and whose module has device().
 */
template <class Holder>
class ModelAdapter : public GenerativeModel {
public:
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

protected:
    /** @throws std::invalid_argument("<kind> model: no model") for an empty handle */
    ModelAdapter(Holder handle, std::string kind) : model(std::move(handle)), modelKind(std::move(kind)) {
        if (!model)
            throw std::invalid_argument(modelKind + " model: no model");
    }
    Holder model;

private:
    std::string modelKind;
};

/**
 * The E-ACF as a GenerativeModel (kind "eacf"): sample() is flow->sample() with log pi(a|x) of its
 * a; proposalLogProb() draws a ~ pi(a|x) and gives log q(x, a) and log pi(a|x); marginalLogProb()
 * is the flow's importance-weighted estimate; save() gives saveFlow() bytes.
 */
class CouplingFlowModel : public ModelAdapter<AugmentedCouplingFlow> {
public:
    /** @throws std::invalid_argument for an empty handle */
    explicit CouplingFlowModel(AugmentedCouplingFlow flow) : ModelAdapter(std::move(flow), "eacf") {}
    AugmentedCouplingFlow& flow() {
        return model;
    }
    ModelSample sample(int64_t n, torch::Generator& generator) override;
    ModelDensity proposalLogProb(const torch::Tensor& x, torch::Generator& generator) override;
    torch::Tensor marginalLogProb(const torch::Tensor& x, int numDraws, torch::Generator& generator) override;
    std::string save() override;
};

/**
 * The E-CNF as a GenerativeModel (kind "ecnf"), with the model's solver and divergence settings:
 * sample() is cnf->sample() with log q(x) (no augmented variables); proposalLogProb() and
 * marginalLogProb() are both the exact log q(x) by the ODE from t = 1 to 0 (numDraws unused);
 * save() gives saveCnf() bytes.
 */
class CnfModel : public ModelAdapter<EquivariantCnf> {
public:
    /** @throws std::invalid_argument for an empty handle */
    explicit CnfModel(EquivariantCnf cnf) : ModelAdapter(std::move(cnf), "ecnf") {}
    EquivariantCnf& cnf() {
        return model;
    }
    ModelSample sample(int64_t n, torch::Generator& generator) override;
    ModelDensity proposalLogProb(const torch::Tensor& x, torch::Generator& generator) override;
    torch::Tensor marginalLogProb(const torch::Tensor& x, int numDraws, torch::Generator& generator) override;
    std::string save() override;
};

/**
 * The E-ACF of a model trained or used by `user` (e.g. "FAB (method 'fab')").
 * @throws std::invalid_argument "<user> needs the E-ACF (model 'eacf'), but the model is the E-CNF ('ecnf')" for another kind
 */
AugmentedCouplingFlow& couplingFlowOf(GenerativeModel& model, const std::string& user);
/** The E-CNF of a model used by `user`; throws std::invalid_argument as couplingFlowOf() for another kind. */
EquivariantCnf& cnfOf(GenerativeModel& model, const std::string& user);

} // namespace bg

#endif
