#ifndef OPENMM_BOLTZMANN_GENERATOR_VERSIONED_SERIALIZATION_PROXY_H_
#define OPENMM_BOLTZMANN_GENERATOR_VERSIONED_SERIALIZATION_PROXY_H_

#include "internal/windowsExportBoltzmannGenerator.h"
#include "openmm/serialization/SerializationProxy.h"

#include <functional>
#include <string>

namespace BoltzmannPlugin {

/**
 * What the XML serialization proxies of openmm-bg share: serialize() writes the attribute "version"
 * (the current version) and then the object's own attributes; deserialize() reads the version,
 * throws OpenMMException("<proxy name>: unsupported version <v>") unless it lies in 1 to the
 * current version, and builds the object from the node of that version.
 */
class OPENMM_EXPORT_BG VersionedSerializationProxy : public OpenMM::SerializationProxy {
public:
    /**
     * @param typeName        the name of the object's type in XML files
     * @param proxyName       the name of the proxy in error messages
     * @param currentVersion  the version written (and the newest one read)
     * @param write           writes the attributes of an object (the version is written already)
     * @param read            a new object from a node of a supported version; may throw OpenMMException
     */
    template <class Object>
    VersionedSerializationProxy(const std::string& typeName, const std::string& proxyName, int currentVersion,
                                void (*write)(const Object& object, OpenMM::SerializationNode& node),
                                Object* (*read)(const OpenMM::SerializationNode& node, int version))
            : VersionedSerializationProxy(
                      typeName, proxyName, currentVersion,
                      [write](const void* object, OpenMM::SerializationNode& node) { write(*static_cast<const Object*>(object), node); },
                      [read](const OpenMM::SerializationNode& node, int version) -> void* { return read(node, version); }) {
    }
    void serialize(const void* object, OpenMM::SerializationNode& node) const override;
    void* deserialize(const OpenMM::SerializationNode& node) const override;

private:
    using Write = std::function<void(const void* object, OpenMM::SerializationNode& node)>;
    using Read = std::function<void*(const OpenMM::SerializationNode& node, int version)>;
    VersionedSerializationProxy(const std::string& typeName, const std::string& proxyName, int currentVersion, Write write, Read read);
    std::string proxyName;
    int currentVersion;
    Write write;
    Read read;
};

} // namespace BoltzmannPlugin

#endif
