#ifndef OPENMM_BOLTZMANN_GENERATOR_FORCE_PROXY_H_
#define OPENMM_BOLTZMANN_GENERATOR_FORCE_PROXY_H_

#include "VersionedSerializationProxy.h"

namespace BoltzmannPlugin {

/**
 * XML serialization of a BoltzmannGeneratorForce: temperature, modelled particles, force group,
 * name, planar flag, random seed, training settings and the flow (configuration and weights).
 * Version 3: the name, the training settings and the flow configuration are stored base64-encoded
 * (attributes nameBase64, trainingSettingsBase64 and Flow/configBase64, beside Flow/weights), so any
 * text round-trips; OpenMM's XML reader mangles attributes that end in a character entity. Files of
 * version 2 (plain-text attributes) and version 1 (also without planar/seed/settings) still load.
 * deserialize() throws OpenMMException for an unknown version, malformed base64 or values the
 * force's setters refuse (e.g. weights saved from a flow with another configuration).
 */
class OPENMM_EXPORT_BG BoltzmannGeneratorForceProxy : public VersionedSerializationProxy {
public:
    BoltzmannGeneratorForceProxy();
};

} // namespace BoltzmannPlugin

#endif
