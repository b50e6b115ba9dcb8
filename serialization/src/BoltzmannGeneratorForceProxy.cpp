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

static const int currentVersion = 2;

BoltzmannGeneratorForceProxy::BoltzmannGeneratorForceProxy() : SerializationProxy("BoltzmannGeneratorForce") {
}

void BoltzmannGeneratorForceProxy::serialize(const void* object, SerializationNode& node) const {
    const BoltzmannGeneratorForce& force = *reinterpret_cast<const BoltzmannGeneratorForce*>(object);
    node.setIntProperty("version", currentVersion);
    node.setStringProperty("name", force.getName());
    node.setIntProperty("forceGroup", force.getForceGroup());
    node.setDoubleProperty("temperature", force.getTemperature());
    node.setBoolProperty("planar", force.isPlanar());
    node.setIntProperty("randomSeed", force.getRandomNumberSeed());
    node.setStringProperty("trainingSettings", force.getTrainingSettings());
    SerializationNode& particles = node.createChildNode("Particles");
    for (int p : force.getParticles())
        particles.createChildNode("Particle").setIntProperty("index", p);
    if (force.hasFlow()) {
        SerializationNode& flow = node.createChildNode("Flow");
        flow.setStringProperty("config", force.getFlowConfig());
        flow.setStringProperty("weights", encodeBase64(force.getFlowWeights()));
    }
}

void* BoltzmannGeneratorForceProxy::deserialize(const SerializationNode& node) const {
    int version = node.getIntProperty("version");
    if (version < 1 || version > currentVersion)
        throw OpenMMException("BoltzmannGeneratorForceProxy: unsupported version " + to_string(version));
    vector<int> particles;
    for (const SerializationNode& p : node.getChildNode("Particles").getChildren())
        particles.push_back(p.getIntProperty("index"));
    BoltzmannGeneratorForce* force = new BoltzmannGeneratorForce(particles, node.getDoubleProperty("temperature"));
    try {
        force->setName(node.getStringProperty("name", force->getName()));
        force->setForceGroup(node.getIntProperty("forceGroup", 0));
        if (version >= 2) {
            force->setPlanar(node.getBoolProperty("planar"));
            force->setRandomNumberSeed(node.getIntProperty("randomSeed"));
            force->setTrainingSettings(node.getStringProperty("trainingSettings"));
        }
        for (const SerializationNode& child : node.getChildren())
            if (child.getName() == "Flow")
                force->setFlow(child.getStringProperty("config"), decodeBase64(child.getStringProperty("weights")));
    }
    catch (...) {
        delete force;
        throw;
    }
    return force;
}
