#include "PluginTestEnvironment.h"

#include "openmm/Context.h"
#include "openmm/Platform.h"
#include "openmm/System.h"
#include "openmm/VerletIntegrator.h"

using namespace OpenMM;
using namespace std;

const vector<string>& loadOpenMMBGPlugins() {
    static vector<string> failures = [] {
        Platform::loadPluginsFromDirectory(OPENMM_PLUGIN_DIR);
        Platform::loadPluginsFromDirectory(OPENMMBG_PLUGIN_DIR);
        vector<string> ours = Platform::getPluginLoadFailures();
        bool haveCuda = false;
        for (int i = 0; i < Platform::getNumPlatforms(); i++)
            haveCuda |= (Platform::getPlatform(i).getName() == "CUDA");
        if (haveCuda) {
            try {
                Platform::loadPluginLibrary(string(OPENMMBG_CUDA_PLUGIN_DIR) + "/libOpenMMBGCUDA.so");
            }
            catch (const exception& e) {
                ours.push_back(e.what());
            }
        }
        return ours;
    }();
    return failures;
}

bool cudaPlatformUsable() {
    loadOpenMMBGPlugins();
    try {
        Platform& platform = Platform::getPlatformByName("CUDA");
        System system;
        system.addParticle(1.0);
        VerletIntegrator integrator(0.001);
        Context context(system, integrator, platform);
        return true;
    }
    catch (const exception&) {
        return false;
    }
}
