#include "BoltzmannGeneratorForce.h"
#include "BoltzmannGeneratorForceProxy.h"
#include "BoltzmannGeneratorIntegrator.h"
#include "BoltzmannGeneratorIntegratorProxy.h"
#include "openmm/serialization/SerializationProxy.h"

using namespace BoltzmannPlugin;
using namespace OpenMM;

extern "C" void registerBoltzmannGeneratorSerializationProxies() {
    SerializationProxy::registerProxy(typeid(BoltzmannGeneratorForce), new BoltzmannGeneratorForceProxy());
    SerializationProxy::registerProxy(typeid(BoltzmannGeneratorIntegrator), new BoltzmannGeneratorIntegratorProxy());
}

// Register the proxies when the library is loaded, so XmlSerializer knows our classes as soon as
// OpenMMBG is linked or imported.
namespace {
struct ProxyRegistration {
    ProxyRegistration() {
        registerBoltzmannGeneratorSerializationProxies();
    }
} proxyRegistration;
} // namespace
