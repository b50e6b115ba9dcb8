#include "BoltzmannGeneratorIntegrator.h"
#include "BoltzmannGeneratorForce.h"
#include "BoltzmannGeneratorKernels.h"
#include "internal/BoltzmannGeneratorForceImpl.h"
#include "internal/CheckpointBlock.h"
#include "internal/FlowMove.h"
#include "openmm/OpenMMException.h"
#include "openmm/internal/ContextImpl.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

static const int checkpointVersion = 2;

BoltzmannGeneratorIntegrator::BoltzmannGeneratorIntegrator(double frictionCoeff, double stepSize) {
    setFriction(frictionCoeff);
    if (!(stepSize > 0.0) || !isfinite(stepSize))
        throw OpenMMException("BoltzmannGeneratorIntegrator: the step size must be positive (ps), got " + to_string(stepSize));
    setStepSize(stepSize);
    setConstraintTolerance(1e-5);
    lastLoss = numeric_limits<double>::quiet_NaN();
}

BoltzmannGeneratorIntegrator::~BoltzmannGeneratorIntegrator() {
}

void BoltzmannGeneratorIntegrator::setFriction(double coeff) {
    if (!(coeff >= 0.0) || !isfinite(coeff))
        throw OpenMMException("BoltzmannGeneratorIntegrator: the friction coefficient must be non-negative (1/ps), got " +
                              to_string(coeff));
    friction = coeff;
}

void BoltzmannGeneratorIntegrator::setFlowMoveInterval(int steps) {
    if (steps < 0)
        throw OpenMMException("BoltzmannGeneratorIntegrator: the flow move interval must be non-negative (steps; 0 = none), got " +
                              to_string(steps));
    flowMoveInterval = steps;
}

void BoltzmannGeneratorIntegrator::setTrainingInterval(int steps) {
    if (steps < 0)
        throw OpenMMException("BoltzmannGeneratorIntegrator: the training interval must be non-negative (steps; 0 = none), got " +
                              to_string(steps));
    trainingInterval = steps;
}

void BoltzmannGeneratorIntegrator::setProposalBatchSize(int size) {
    if (size < 1)
        throw OpenMMException("BoltzmannGeneratorIntegrator: the proposal batch size must be positive, got " + to_string(size));
    proposalBatchSize = size;
}

void BoltzmannGeneratorIntegrator::setWeightDraws(int draws) {
    if (draws < 1)
        throw OpenMMException("BoltzmannGeneratorIntegrator: the number of weight draws must be positive, got " + to_string(draws));
    weightDraws = draws;
}

void BoltzmannGeneratorIntegrator::setEssWindow(int proposals) {
    if (proposals < 1)
        throw OpenMMException("BoltzmannGeneratorIntegrator: the ESS window must be positive (proposals), got " + to_string(proposals));
    essWindow = proposals;
}

namespace {

/** The System's one BoltzmannGeneratorForce and its implementation in the Context (throws otherwise). */
BoltzmannGeneratorForceImpl& forceImplOf(ContextImpl& context) {
    const System& system = context.getSystem();
    int count = 0;
    for (int i = 0; i < system.getNumForces(); i++)
        count += dynamic_cast<const BoltzmannGeneratorForce*>(&system.getForce(i)) != nullptr ? 1 : 0;
    if (count == 0)
        throw OpenMMException("BoltzmannGeneratorIntegrator: the System contains no BoltzmannGeneratorForce");
    if (count > 1)
        throw OpenMMException("BoltzmannGeneratorIntegrator: the System contains more than one BoltzmannGeneratorForce");
    for (ForceImpl* impl : context.getForceImpls())
        if (BoltzmannGeneratorForceImpl* forceImpl = dynamic_cast<BoltzmannGeneratorForceImpl*>(impl))
            return *forceImpl;
    throw OpenMMException("BoltzmannGeneratorIntegrator: the Context has no BoltzmannGeneratorForce implementation");
}

}   // namespace

void BoltzmannGeneratorIntegrator::initialize(ContextImpl& contextRef) {
    if (context != nullptr && &contextRef != context)
        throw OpenMMException("BoltzmannGeneratorIntegrator: this integrator is already bound to a Context");
    const System& system = contextRef.getSystem();
    BoltzmannGeneratorForceImpl& forceImpl = forceImplOf(contextRef);
    if (system.getNumConstraints() > 0)
        throw OpenMMException("BoltzmannGeneratorIntegrator: the System has " + to_string(system.getNumConstraints()) +
                              " constraints; this integrator does not support constraints yet (remove them, e.g. constraints=None)");
    model = &forceImpl.getModel();
    vector<int> planar;
    if (model->getDimension() == 2)
        planar = model->getParticles();
    context = &contextRef;
    kernel = context->getPlatform().createKernel(IntegrateBoltzmannGeneratorStepKernel::Name(), contextRef);
    kernel.getAs<IntegrateBoltzmannGeneratorStepKernel>().initialize(system, *this, planar);
    flowMoves.reset(new FlowMoveSampler());
    steps = numFlowMoves = numAcceptedFlowMoves = trainingIterations = 0;
    lastLoss = numeric_limits<double>::quiet_NaN();
    proposalLogWeights.clear();
}

void BoltzmannGeneratorIntegrator::cleanup() {
    kernel = Kernel();
    context = nullptr;
    model = nullptr;
    flowMoves.reset();
}

vector<string> BoltzmannGeneratorIntegrator::getKernelNames() {
    return {IntegrateBoltzmannGeneratorStepKernel::Name()};
}

double BoltzmannGeneratorIntegrator::computeKineticEnergy() {
    return kernel.getAs<IntegrateBoltzmannGeneratorStepKernel>().computeKineticEnergy(*context, *this);
}

void BoltzmannGeneratorIntegrator::flowMove() {
    FlowMoveResult move = flowMoves->move(*model, *context, proposalBatchSize, weightDraws, getIntegrationForceGroups());
    numFlowMoves++;
    if (move.accepted)
        numAcceptedFlowMoves++;
    proposalLogWeights.push_back(move.proposalLogWeight);
    while ((int) proposalLogWeights.size() > essWindow)
        proposalLogWeights.pop_front();
}

void BoltzmannGeneratorIntegrator::step(int numSteps) {
    if (context == nullptr)
        throw OpenMMException("BoltzmannGeneratorIntegrator: this integrator is not bound to a Context");
    for (int i = 0; i < numSteps; i++) {
        context->updateContextState();
        context->calcForcesAndEnergy(true, false, getIntegrationForceGroups());
        kernel.getAs<IntegrateBoltzmannGeneratorStepKernel>().execute(*context, *this, model->getKT());
        steps++;
        if (flowMoveInterval > 0 && steps % flowMoveInterval == 0)
            flowMove();
        if (trainingInterval > 0 && steps % trainingInterval == 0) {
            lastLoss = model->train(*context, 1).lastLoss;
            trainingIterations++;
        }
    }
}

long long BoltzmannGeneratorIntegrator::getNumFlowMoves() const {
    return numFlowMoves;
}

long long BoltzmannGeneratorIntegrator::getNumAcceptedFlowMoves() const {
    return numAcceptedFlowMoves;
}

double BoltzmannGeneratorIntegrator::getAcceptanceRate() const {
    return numFlowMoves > 0 ? double(numAcceptedFlowMoves) / double(numFlowMoves) : 0.0;
}

double BoltzmannGeneratorIntegrator::getRunningEss() const {
    if (proposalLogWeights.empty())
        return 0.0;
    const double maximum = *max_element(proposalLogWeights.begin(), proposalLogWeights.end());
    if (!isfinite(maximum))
        return 0.0;
    double sum = 0.0, sumSquares = 0.0;
    for (double logW : proposalLogWeights) {
        const double w = exp(logW - maximum);
        sum += w;
        sumSquares += w * w;
    }
    return sum * sum / (sumSquares * proposalLogWeights.size());
}

double BoltzmannGeneratorIntegrator::getLastLoss() const {
    return lastLoss;
}

long long BoltzmannGeneratorIntegrator::getNumTrainingIterations() const {
    return trainingIterations;
}

long long BoltzmannGeneratorIntegrator::getStepCount() const {
    return steps;
}

void BoltzmannGeneratorIntegrator::createCheckpoint(ostream& stream) const {
    ostringstream text;
    text.precision(17);
    text << checkpointVersion << ' ' << steps << ' ' << numFlowMoves << ' ' << numAcceptedFlowMoves << ' ' << trainingIterations << ' '
         << lastLoss << ' ' << proposalLogWeights.size();
    for (double logW : proposalLogWeights)
        text << ' ' << logW;
    writeCheckpointBlock(stream, text.str());
    kernel.getAs<IntegrateBoltzmannGeneratorStepKernel>().createCheckpoint(*context, stream);
    model->saveState(stream);
    flowMoves->save(*model, stream);
}

namespace {

/** A double written by operator<< (including nan, inf and -inf). */
double parseDouble(const string& text) {
    if (text == "nan" || text == "-nan")
        return numeric_limits<double>::quiet_NaN();
    if (text == "inf" || text == "-inf")
        return text[0] == '-' ? -numeric_limits<double>::infinity() : numeric_limits<double>::infinity();
    return stod(text);
}

}   // namespace

namespace {

/** A stream holding one checkpoint block with these contents (for the readers of single blocks). */
istringstream blockStream(const string& contents) {
    ostringstream out;
    writeCheckpointBlock(out, contents);
    return istringstream(out.str());
}

} // namespace

void BoltzmannGeneratorIntegrator::loadCheckpoint(istream& stream) {
    // Read (and check the checksums of) every block before anything is applied, so a corrupted or
    // truncated checkpoint leaves the Context as it was.
    const string integratorBlock = readCheckpointBlock(stream, "integrator state");
    const string langevinBlock = readCheckpointBlock(stream, "Langevin random state");
    const string modelBlock = readCheckpointBlock(stream, "flow state");
    const string proposalBlock = readCheckpointBlock(stream, "flow-move proposals");
    istringstream text(integratorBlock);
    int version = 0;
    size_t windowSize = 0;
    string loss;
    text >> version;
    if (version != checkpointVersion)
        throw OpenMMException("BoltzmannGeneratorIntegrator: unsupported checkpoint version " + to_string(version));
    long long newSteps, moves, accepted, iterations;
    text >> newSteps >> moves >> accepted >> iterations >> loss >> windowSize;
    if (!text || windowSize > (size_t) 1 << 31)
        throw OpenMMException("BoltzmannGeneratorIntegrator: the checkpoint's integrator state is malformed");
    deque<double> window;
    double newLoss;
    try {
        for (size_t i = 0; i < windowSize; i++) {
            string value;
            text >> value;
            window.push_back(parseDouble(value));
        }
        newLoss = parseDouble(loss);
    }
    catch (const exception&) {
        throw OpenMMException("BoltzmannGeneratorIntegrator: the checkpoint's integrator state is malformed");
    }
    istringstream langevin = blockStream(langevinBlock), modelState = blockStream(modelBlock), proposals = blockStream(proposalBlock);
    kernel.getAs<IntegrateBoltzmannGeneratorStepKernel>().loadCheckpoint(*context, langevin);
    model->loadState(*context, modelState);
    flowMoves->load(*model, proposals);
    steps = newSteps;
    numFlowMoves = moves;
    numAcceptedFlowMoves = accepted;
    trainingIterations = iterations;
    lastLoss = newLoss;
    proposalLogWeights = window;
}
