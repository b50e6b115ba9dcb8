#include "BoltzmannGeneratorForceProxy.h"
#include "Base64.h"
#include "BoltzmannGeneratorForce.h"
#include "openmm/OpenMMException.h"
#include "openmm/serialization/SerializationNode.h"

#include <string>
#include <vector>

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

// Version 3 stores the name, the flow configuration and the training settings base64-encoded (as
// the weights always were): OpenMM's XML reader loses the character after the last character entity
// of an attribute, so JSON ending in a string value ("...&quot;}") could not be read back. Versions 1
// and 2 (plain-text attributes; version 1 without planar, seed and settings) are still read.
static const int currentVersion = 3;

static void writeForce(const BoltzmannGeneratorForce& force, SerializationNode& node) {
    node.setStringProperty("nameBase64", encodeBase64(force.getName()));
    node.setIntProperty("forceGroup", force.getForceGroup());
    node.setDoubleProperty("temperature", force.getTemperature());
    node.setBoolProperty("planar", force.isPlanar());
    node.setIntProperty("randomSeed", force.getRandomNumberSeed());
    node.setBoolProperty("distributedTraining", force.getDistributedTraining());
    node.setDoubleProperty("distributedTimeout", force.getDistributedTimeout());
    node.setStringProperty("trainingSettingsBase64", encodeBase64(force.getTrainingSettings()));
    SerializationNode& particles = node.createChildNode("Particles");
    for (int p : force.getParticles())
        particles.createChildNode("Particle").setIntProperty("index", p);
    if (force.hasFlow()) {
        SerializationNode& flow = node.createChildNode("Flow");
        flow.setStringProperty("configBase64", encodeBase64(force.getFlowConfig()));
        flow.setStringProperty("weights", encodeBase64(force.getFlowWeights()));
    }
}

static BoltzmannGeneratorForce* readForce(const SerializationNode& node, int version) {
    vector<int> particles;
    for (const SerializationNode& p : node.getChildNode("Particles").getChildren())
        particles.push_back(p.getIntProperty("index"));
    BoltzmannGeneratorForce* force = new BoltzmannGeneratorForce(particles, node.getDoubleProperty("temperature"));
    try {
        if (version >= 3)
            force->setName(decodeBase64(node.getStringProperty("nameBase64")));
        else
            force->setName(node.getStringProperty("name", force->getName()));
        force->setForceGroup(node.getIntProperty("forceGroup", 0));
        force->setDistributedTraining(node.getBoolProperty("distributedTraining", false));   // absent from older XML
        force->setDistributedTimeout(node.getDoubleProperty("distributedTimeout", force->getDistributedTimeout()));
        if (version >= 2) {
            force->setPlanar(node.getBoolProperty("planar"));
            force->setRandomNumberSeed(node.getIntProperty("randomSeed"));
            force->setTrainingSettings(version >= 3 ? decodeBase64(node.getStringProperty("trainingSettingsBase64"))
                                                    : node.getStringProperty("trainingSettings"));
        }
        for (const SerializationNode& child : node.getChildren())
            if (child.getName() == "Flow") {
                const string config = version >= 3 ? decodeBase64(child.getStringProperty("configBase64")) : child.getStringProperty("config");
                force->setFlow(config, decodeBase64(child.getStringProperty("weights")));
            }
    }
    catch (...) {
        delete force;
        throw;
    }
    return force;
}

BoltzmannGeneratorForceProxy::BoltzmannGeneratorForceProxy()
        : VersionedSerializationProxy("BoltzmannGeneratorForce", "BoltzmannGeneratorForceProxy", ::currentVersion, writeForce, readForce) {
}
