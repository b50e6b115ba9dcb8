#include "BoltzmannGeneratorIntegratorProxy.h"
#include "BoltzmannGeneratorIntegrator.h"
#include "openmm/serialization/SerializationNode.h"

#include <memory>
#include <string>

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

static const int currentVersion = 1;

static void writeIntegrator(const BoltzmannGeneratorIntegrator& integrator, SerializationNode& node) {
    node.setDoubleProperty("stepSize", integrator.getStepSize());
    node.setDoubleProperty("constraintTolerance", integrator.getConstraintTolerance());
    node.setDoubleProperty("friction", integrator.getFriction());
    node.setIntProperty("flowMoveInterval", integrator.getFlowMoveInterval());
    node.setIntProperty("trainingInterval", integrator.getTrainingInterval());
    node.setIntProperty("proposalBatchSize", integrator.getProposalBatchSize());
    node.setIntProperty("essWindow", integrator.getEssWindow());
    node.setIntProperty("weightDraws", integrator.getWeightDraws());
    node.setIntProperty("randomSeed", integrator.getRandomNumberSeed());
    node.setIntProperty("integrationForceGroups", integrator.getIntegrationForceGroups());
}

static BoltzmannGeneratorIntegrator* readIntegrator(const SerializationNode& node, int /* version: 1 */) {
    unique_ptr<BoltzmannGeneratorIntegrator> integrator(
            new BoltzmannGeneratorIntegrator(node.getDoubleProperty("friction"), node.getDoubleProperty("stepSize")));
    integrator->setConstraintTolerance(node.getDoubleProperty("constraintTolerance"));
    integrator->setFlowMoveInterval(node.getIntProperty("flowMoveInterval"));
    integrator->setTrainingInterval(node.getIntProperty("trainingInterval"));
    integrator->setProposalBatchSize(node.getIntProperty("proposalBatchSize"));
    integrator->setEssWindow(node.getIntProperty("essWindow"));
    integrator->setWeightDraws(node.getIntProperty("weightDraws", 1));   // absent from XML written before the setting existed
    integrator->setRandomNumberSeed(node.getIntProperty("randomSeed"));
    integrator->setIntegrationForceGroups(node.getIntProperty("integrationForceGroups", 0xFFFFFFFF));
    return integrator.release();
}

BoltzmannGeneratorIntegratorProxy::BoltzmannGeneratorIntegratorProxy()
        : VersionedSerializationProxy("BoltzmannGeneratorIntegrator", "BoltzmannGeneratorIntegratorProxy", ::currentVersion,
                                      writeIntegrator, readIntegrator) {
}
