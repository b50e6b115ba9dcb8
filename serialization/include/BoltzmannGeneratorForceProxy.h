#ifndef OPENMM_BOLTZMANN_GENERATOR_FORCE_PROXY_H_
#define OPENMM_BOLTZMANN_GENERATOR_FORCE_PROXY_H_

#include "internal/windowsExportBoltzmannGenerator.h"
#include "openmm/serialization/SerializationProxy.h"

namespace BoltzmannPlugin {

/**
 * XML serialization of a BoltzmannGeneratorForce: temperature, modelled particles, force group,
 * name, planar flag, random seed, training settings and the flow (configuration as text, weights
 * as base64). Version 2 (version 1 files, without planar/seed/settings, still load).
 */
class OPENMM_EXPORT_BG BoltzmannGeneratorForceProxy : public OpenMM::SerializationProxy {
public:
    BoltzmannGeneratorForceProxy();
    void serialize(const void* object, OpenMM::SerializationNode& node) const override;
    void* deserialize(const OpenMM::SerializationNode& node) const override;
};

} // namespace BoltzmannPlugin

#endif
