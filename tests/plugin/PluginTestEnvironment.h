#ifndef OPENMMBG_TESTS_PLUGIN_TEST_ENVIRONMENT_H_
#define OPENMMBG_TESTS_PLUGIN_TEST_ENVIRONMENT_H_

#include "openmm/OpenMMException.h"
#include "openmm/Platform.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

/**
 * Loads OpenMM's own plugins (for the CPU and CUDA platforms) and then openmm-bg's plugin
 * directory, once per process, exactly as a user program would.
 *
 * @return the failures reported by Platform::getPluginLoadFailures() for openmm-bg's directory
 */
const std::vector<std::string>& loadOpenMMBGPlugins();

/** Whether OpenMM's CUDA platform is usable here (registered and able to create a Context). */
bool cudaPlatformUsable();

/**
 * Expect f() to throw an OpenMMException whose message names `where` (the class or function)
 * and contains `fragment`.
 */
template <class F>
void expectOpenMMException(F f, const std::string& where, const std::string& fragment) {
    try {
        f();
        ADD_FAILURE() << "expected an OpenMMException from " << where << " mentioning '" << fragment << "'";
    }
    catch (const OpenMM::OpenMMException& e) {
        EXPECT_NE(std::string(e.what()).find(where), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
}

/** Fixture for test bodies shared across platforms: the parameter is the platform name. */
class PlatformTest : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        loadOpenMMBGPlugins();
        platform = &OpenMM::Platform::getPlatformByName(GetParam());
    }
    OpenMM::Platform* platform = nullptr;
};

#endif
