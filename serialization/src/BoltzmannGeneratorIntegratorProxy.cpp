#include "BoltzmannGeneratorIntegratorProxy.h"
#include "BoltzmannGeneratorIntegrator.h"
#include "openmm/OpenMMException.h"
#include "openmm/serialization/SerializationNode.h"

#include <memory>
#include <string>

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

static const int currentVersion = 1;

BoltzmannGeneratorIntegratorProxy::BoltzmannGeneratorIntegratorProxy() : SerializationProxy("BoltzmannGeneratorIntegrator") {
}

void BoltzmannGeneratorIntegratorProxy::serialize(const void* object, SerializationNode& node) const {
    const BoltzmannGeneratorIntegrator& integrator = *reinterpret_cast<const BoltzmannGeneratorIntegrator*>(object);
    node.setIntProperty("version", currentVersion);
    node.setDoubleProperty("stepSize", integrator.getStepSize());
    node.setDoubleProperty("constraintTolerance", integrator.getConstraintTolerance());
    node.setDoubleProperty("friction", integrator.getFriction());
    node.setIntProperty("flowMoveInterval", integrator.getFlowMoveInterval());
    node.setIntProperty("trainingInterval", integrator.getTrainingInterval());
    node.setIntProperty("proposalBatchSize", integrator.getProposalBatchSize());
    node.setIntProperty("essWindow", integrator.getEssWindow());
    node.setIntProperty("randomSeed", integrator.getRandomNumberSeed());
    node.setIntProperty("integrationForceGroups", integrator.getIntegrationForceGroups());
}

void* BoltzmannGeneratorIntegratorProxy::deserialize(const SerializationNode& node) const {
    const int version = node.getIntProperty("version");
    if (version < 1 || version > currentVersion)
        throw OpenMMException("BoltzmannGeneratorIntegratorProxy: unsupported version " + to_string(version));
    unique_ptr<BoltzmannGeneratorIntegrator> integrator(
            new BoltzmannGeneratorIntegrator(node.getDoubleProperty("friction"), node.getDoubleProperty("stepSize")));
    integrator->setConstraintTolerance(node.getDoubleProperty("constraintTolerance"));
    integrator->setFlowMoveInterval(node.getIntProperty("flowMoveInterval"));
    integrator->setTrainingInterval(node.getIntProperty("trainingInterval"));
    integrator->setProposalBatchSize(node.getIntProperty("proposalBatchSize"));
    integrator->setEssWindow(node.getIntProperty("essWindow"));
    integrator->setRandomNumberSeed(node.getIntProperty("randomSeed"));
    integrator->setIntegrationForceGroups(node.getIntProperty("integrationForceGroups", 0xFFFFFFFF));
    return integrator.release();
}
