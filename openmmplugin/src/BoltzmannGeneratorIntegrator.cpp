#include "BoltzmannGeneratorIntegrator.h"
#include "BoltzmannGeneratorForce.h"
#include "BoltzmannGeneratorKernels.h"
#include "internal/BoltzmannGeneratorForceImpl.h"
#include "openmm/OpenMMException.h"
#include "openmm/internal/ContextImpl.h"

#include <cmath>
#include <set>
#include <string>

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

BoltzmannGeneratorIntegrator::BoltzmannGeneratorIntegrator(double frictionCoeff, double stepSize) {
    setFriction(frictionCoeff);
    if (!(stepSize > 0.0) || !isfinite(stepSize))
        throw OpenMMException("BoltzmannGeneratorIntegrator: the step size must be positive (ps), got " + to_string(stepSize));
    setStepSize(stepSize);
    setConstraintTolerance(1e-5);
}

void BoltzmannGeneratorIntegrator::setFriction(double coeff) {
    if (!(coeff >= 0.0) || !isfinite(coeff))
        throw OpenMMException("BoltzmannGeneratorIntegrator: the friction coefficient must be non-negative (1/ps), got " + to_string(coeff));
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

void BoltzmannGeneratorIntegrator::setEssWindow(int proposals) {
    if (proposals < 1)
        throw OpenMMException("BoltzmannGeneratorIntegrator: the ESS window must be positive (proposals), got " + to_string(proposals));
    essWindow = proposals;
}

void BoltzmannGeneratorIntegrator::initialize(ContextImpl& contextRef) {
    if (context != nullptr && &contextRef != context)
        throw OpenMMException("BoltzmannGeneratorIntegrator: this integrator is already bound to a Context");
    const System& system = contextRef.getSystem();
    const BoltzmannGeneratorForce* force = nullptr;
    for (int i = 0; i < system.getNumForces(); i++)
        if (const BoltzmannGeneratorForce* f = dynamic_cast<const BoltzmannGeneratorForce*>(&system.getForce(i))) {
            if (force != nullptr)
                throw OpenMMException("BoltzmannGeneratorIntegrator: the System contains more than one BoltzmannGeneratorForce");
            force = f;
        }
    if (force == nullptr)
        throw OpenMMException("BoltzmannGeneratorIntegrator: the System contains no BoltzmannGeneratorForce");
    set<int> modelled(force->getParticles().begin(), force->getParticles().end());
    for (int p : force->getParticles())
        if (p < system.getNumParticles() && system.isVirtualSite(p))
            throw OpenMMException("BoltzmannGeneratorIntegrator: modelled particle " + to_string(p) + " is a virtual site");
    for (int i = 0; i < system.getNumConstraints(); i++) {
        int p1, p2;
        double distance;
        system.getConstraintParameters(i, p1, p2, distance);
        if (modelled.count(p1) != 0 || modelled.count(p2) != 0)
            throw OpenMMException("BoltzmannGeneratorIntegrator: constraint " + to_string(i) + " involves modelled particle " +
                                  to_string(modelled.count(p1) != 0 ? p1 : p2) + "; modelled particles cannot be constrained");
    }
    if (system.getNumConstraints() > 0)
        throw OpenMMException("BoltzmannGeneratorIntegrator: the System has " + to_string(system.getNumConstraints()) +
                              " constraints; this integrator does not support constraints yet (remove them, e.g. constraints=None)");
    BoltzmannGeneratorForceImpl* forceImpl = nullptr;
    for (ForceImpl* impl : contextRef.getForceImpls())
        if ((forceImpl = dynamic_cast<BoltzmannGeneratorForceImpl*>(impl)) != nullptr)
            break;
    if (forceImpl == nullptr)
        throw OpenMMException("BoltzmannGeneratorIntegrator: the Context has no BoltzmannGeneratorForce implementation");
    BoltzmannGeneratorModel& model = forceImpl->getKernel().getAs<CalcBoltzmannGeneratorForceKernel>().getModel();
    context = &contextRef;
    kernel = context->getPlatform().createKernel(IntegrateBoltzmannGeneratorStepKernel::Name(), contextRef);
    kernel.getAs<IntegrateBoltzmannGeneratorStepKernel>().initialize(system, *this, model);
}

void BoltzmannGeneratorIntegrator::cleanup() {
    kernel = Kernel();
    context = nullptr;
}

vector<string> BoltzmannGeneratorIntegrator::getKernelNames() {
    return {IntegrateBoltzmannGeneratorStepKernel::Name()};
}

double BoltzmannGeneratorIntegrator::computeKineticEnergy() {
    return kernel.getAs<IntegrateBoltzmannGeneratorStepKernel>().computeKineticEnergy(*context, *this);
}

void BoltzmannGeneratorIntegrator::step(int steps) {
    if (context == nullptr)
        throw OpenMMException("BoltzmannGeneratorIntegrator: this integrator is not bound to a Context");
    for (int i = 0; i < steps; i++) {
        context->updateContextState();
        context->calcForcesAndEnergy(true, false, getIntegrationForceGroups());
        kernel.getAs<IntegrateBoltzmannGeneratorStepKernel>().execute(*context, *this);
    }
}

const IntegrateBoltzmannGeneratorStepKernel* BoltzmannGeneratorIntegrator::kernelImpl() const {
    if (context == nullptr)
        return nullptr;
    return &kernel.getAs<IntegrateBoltzmannGeneratorStepKernel>();
}

long long BoltzmannGeneratorIntegrator::getNumFlowMoves() const {
    return kernelImpl() ? kernelImpl()->getNumFlowMoves() : 0;
}

long long BoltzmannGeneratorIntegrator::getNumAcceptedFlowMoves() const {
    return kernelImpl() ? kernelImpl()->getNumAcceptedFlowMoves() : 0;
}

double BoltzmannGeneratorIntegrator::getAcceptanceRate() const {
    const long long moves = getNumFlowMoves();
    return moves > 0 ? double(getNumAcceptedFlowMoves()) / double(moves) : 0.0;
}

double BoltzmannGeneratorIntegrator::getRunningEss() const {
    return kernelImpl() ? kernelImpl()->getRunningEss() : 0.0;
}

double BoltzmannGeneratorIntegrator::getLastLoss() const {
    return kernelImpl() ? kernelImpl()->getLastLoss() : NAN;
}

long long BoltzmannGeneratorIntegrator::getNumTrainingIterations() const {
    return kernelImpl() ? kernelImpl()->getNumTrainingIterations() : 0;
}

long long BoltzmannGeneratorIntegrator::getStepCount() const {
    return kernelImpl() ? kernelImpl()->getStepCount() : 0;
}

void BoltzmannGeneratorIntegrator::createCheckpoint(ostream& stream) const {
    kernel.getAs<IntegrateBoltzmannGeneratorStepKernel>().createCheckpoint(*context, stream);
}

void BoltzmannGeneratorIntegrator::loadCheckpoint(istream& stream) {
    kernel.getAs<IntegrateBoltzmannGeneratorStepKernel>().loadCheckpoint(*context, stream);
}
