#include "VersionedSerializationProxy.h"
#include "openmm/OpenMMException.h"
#include "openmm/serialization/SerializationNode.h"

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

VersionedSerializationProxy::VersionedSerializationProxy(const string& typeName, const string& proxyName, int currentVersion, Write write,
                                                         Read read)
        : SerializationProxy(typeName), proxyName(proxyName), currentVersion(currentVersion), write(write), read(read) {
}

void VersionedSerializationProxy::serialize(const void* object, SerializationNode& node) const {
    node.setIntProperty("version", currentVersion);
    write(object, node);
}

void* VersionedSerializationProxy::deserialize(const SerializationNode& node) const {
    const int version = node.getIntProperty("version");
    if (version < 1 || version > currentVersion)
        throw OpenMMException(proxyName + ": unsupported version " + to_string(version));
    return read(node, version);
}
