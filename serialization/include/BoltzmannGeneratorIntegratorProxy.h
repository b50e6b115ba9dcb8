#ifndef OPENMM_BOLTZMANN_GENERATOR_INTEGRATOR_PROXY_H_
#define OPENMM_BOLTZMANN_GENERATOR_INTEGRATOR_PROXY_H_

#include "VersionedSerializationProxy.h"

namespace BoltzmannPlugin {

/**
 * XML serialization of a BoltzmannGeneratorIntegrator: step size, constraint tolerance, friction,
 * flow-move and training intervals, proposal batch size, ESS window, random seed and integration
 * force groups. Version 1.
 */
class OPENMM_EXPORT_BG BoltzmannGeneratorIntegratorProxy : public VersionedSerializationProxy {
public:
    BoltzmannGeneratorIntegratorProxy();
};

} // namespace BoltzmannPlugin

#endif
