#include "BoltzmannGeneratorForce.h"
#include "bg/CnfFiles.h"
#include "bg/FlowConfig.h"
#include "bg/GenerativeModel.h"
#include "bg/SavedFlow.h"
#include "bg/TrainingConfig.h"
#include "internal/BoltzmannGeneratorForceImpl.h"
#include "internal/BoltzmannGeneratorModel.h"
#include "openmm/OpenMMException.h"

#include <cmath>
#include <set>
#include <string>

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

// JSON text on one line (newlines are whitespace in JSON, and XML attributes do not keep them).
static string oneLine(string json) {
    for (char& c : json)
        if (c == '\n' || c == '\r')
            c = ' ';
    return json;
}

static void checkTemperature(double temperature) {
    if (!(temperature > 0.0) || !isfinite(temperature))
        throw OpenMMException("BoltzmannGeneratorForce: the temperature must be positive and finite (Kelvin), got " +
                              to_string(temperature));
}

BoltzmannGeneratorForce::BoltzmannGeneratorForce(const vector<int>& particles, double temperature)
        : particles(particles), temperature(temperature) {
    if (particles.empty())
        throw OpenMMException("BoltzmannGeneratorForce: the list of modelled particles is empty");
    set<int> seen;
    for (int p : particles) {
        if (p < 0)
            throw OpenMMException("BoltzmannGeneratorForce: particle index " + to_string(p) + " is negative");
        if (!seen.insert(p).second)
            throw OpenMMException("BoltzmannGeneratorForce: particle " + to_string(p) + " is listed more than once");
    }
    checkTemperature(temperature);
}

void BoltzmannGeneratorForce::setTemperature(double temperature) {
    checkTemperature(temperature);
    this->temperature = temperature;
}

void BoltzmannGeneratorForce::setFlow(const string& config, const string& weights) {
    if (config.empty())
        throw OpenMMException("BoltzmannGeneratorForce: setFlow() needs a non-empty flow configuration");
    string normalised;
    bool cnf = false;
    try {
        cnf = bg::modelKindOfConfig(config) == "ecnf";
    }
    catch (const exception&) {   // not an E-CNF: the E-ACF's parser below reports what is wrong
    }
    try {
        if (cnf) {
            bg::CnfConfig parsed = bg::CnfConfig::fromJson(config);
            parsed.validate();
            normalised = parsed.toJson();
        }
        else {
            bg::FlowConfig parsed = bg::FlowConfig::fromJson(config);
            parsed.validate();
            normalised = parsed.toJson();
        }
    }
    catch (const exception& e) {
        throw OpenMMException(string("BoltzmannGeneratorForce: setFlow(): invalid flow configuration: ") + e.what());
    }
    if (!weights.empty()) {
        // The weights carry their own configuration: one source of truth, read from the header
        // without building the model.
        string stored;
        try {
            stored = cnf ? bg::readCnfConfig(weights).toJson() : bg::readFlowConfig(weights).toJson();
        }
        catch (const exception& e) {
            throw OpenMMException(string("BoltzmannGeneratorForce: setFlow(): the weights are not a saved flow (use getWeights()): ") +
                                  e.what());
        }
        if (stored != normalised)
            throw OpenMMException("BoltzmannGeneratorForce: setFlow(): the weights were saved from a flow with a different configuration "
                                  "(weights: " + oneLine(stored) + "; given: " + oneLine(normalised) + ")");
    }
    flowConfig = oneLine(config);
    flowWeights = weights;
}

void BoltzmannGeneratorForce::setTrainingSettings(const string& json) {
    if (json.empty()) {
        trainingSettings.clear();
        return;
    }
    try {
        bg::TrainingConfig config = bg::TrainingConfig::fromJson(json);
        config.validate();
        trainingSettings = oneLine(config.toJson());
    }
    catch (const exception& e) {
        throw OpenMMException(string("BoltzmannGeneratorForce: invalid training settings: ") + e.what());
    }
}

void BoltzmannGeneratorForce::setDistributedTimeout(double seconds) {
    if (!(seconds > 0.0) || !isfinite(seconds))
        throw OpenMMException("BoltzmannGeneratorForce: the distributed timeout must be positive and finite (seconds), got " +
                              to_string(seconds));
    distributedTimeout = seconds;
}

BoltzmannGeneratorForceImpl& BoltzmannGeneratorForce::implIn(Context& context) const {
    BoltzmannGeneratorForceImpl* impl = nullptr;
    try {
        impl = dynamic_cast<BoltzmannGeneratorForceImpl*>(&getImplInContext(context));
    }
    catch (const OpenMMException&) {
    }
    if (impl == nullptr)
        throw OpenMMException("BoltzmannGeneratorForce: this force is not part of the Context's System");
    return *impl;
}

BoltzmannGeneratorModel& BoltzmannGeneratorForce::modelIn(Context& context) const {
    return implIn(context).getModel();
}

BoltzmannGeneratorSamples BoltzmannGeneratorForce::sample(Context& context, int numSamples, int weightDraws) const {
    return modelIn(context).sample(getContextImpl(context), numSamples, weightDraws);
}

vector<double> BoltzmannGeneratorForce::computeLogProb(Context& context, const vector<Vec3>& positions, int numDraws) const {
    return modelIn(context).computeLogProb(getContextImpl(context), positions, numDraws);
}

vector<double> BoltzmannGeneratorForce::computeLogWeights(Context& context, const vector<Vec3>& positions, int numDraws) const {
    return modelIn(context).computeLogWeights(getContextImpl(context), positions, numDraws);
}

vector<double> BoltzmannGeneratorForce::computeEnergies(Context& context, const vector<Vec3>& positions) const {
    return modelIn(context).computeEnergies(getContextImpl(context), positions);
}

BoltzmannGeneratorTrainingReport BoltzmannGeneratorForce::train(Context& context, int iterations) const {
    return modelIn(context).train(getContextImpl(context), iterations);
}

BoltzmannGeneratorTrainingReport BoltzmannGeneratorForce::trainOnSamples(Context& context, const vector<Vec3>& positions, int iterations) const {
    return modelIn(context).trainOnSamples(getContextImpl(context), positions, iterations);
}

string BoltzmannGeneratorForce::getWeights(Context& context) const {
    return modelIn(context).getWeights();
}

void BoltzmannGeneratorForce::updateParametersInContext(Context& context) {
    implIn(context).updateParametersInContext(getContextImpl(context), *this);
}

ForceImpl* BoltzmannGeneratorForce::createImpl() const {
    return new BoltzmannGeneratorForceImpl(*this);
}

vector<Vec3> BoltzmannGeneratorForce::getModelledPositions(Context& context) const {
    return implIn(context).getModelledPositions(getContextImpl(context));
}
