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

const vector<string>& sharedTestPlatforms() {
    static const vector<string> platforms = {"Reference", "CPU", "CUDA:single", "CUDA:mixed", "CUDA:double"};
    return platforms;
}

string platformTestName(const ::testing::TestParamInfo<string>& info) {
    string name = info.param;
    for (char& c : name)
        if (c == ':')
            c = '_';
    return name;
}

void PlatformTest::SetUp() {
    loadOpenMMBGPlugins();
    const string& parameter = GetParam();
    size_t colon = parameter.find(':');
    platformName = parameter.substr(0, colon);
    precision = colon == string::npos ? "" : parameter.substr(colon + 1);
    if (platformName == "CUDA" && !cudaPlatformUsable())
        GTEST_SKIP() << "no usable CUDA device: the " << parameter << " instance is skipped";
    platform = &Platform::getPlatformByName(platformName);
    if (!precision.empty())
        platform->setPropertyDefaultValue("Precision", precision);
}

void PlatformTest::skipUnlessSupported(const vector<string>& kernelNames) {
    if (platform != nullptr && !platform->supportsKernels(kernelNames))
        GTEST_SKIP() << "the " << GetParam() << " platform has no kernel for " << kernelNames.front();
}
