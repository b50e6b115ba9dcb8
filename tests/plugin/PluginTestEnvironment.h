#ifndef OPENMMBG_TESTS_PLUGIN_TEST_ENVIRONMENT_H_
#define OPENMMBG_TESTS_PLUGIN_TEST_ENVIRONMENT_H_

#include "openmm/OpenMMException.h"
#include "openmm/Platform.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

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

// What follows uses GoogleTest, so it stays inline here: PluginTestEnvironment.cpp is also
// linked into benchmarks that do not link GoogleTest.

/**
 * The platforms the shared test bodies run on, as OpenMM's own plugins run theirs: "Reference",
 * "CPU", and "CUDA:single", "CUDA:mixed", "CUDA:double" (CUDA in one precision each; those
 * instances skip themselves where no CUDA device is usable). Instantiate a PlatformTest suite with
 * INSTANTIATE_TEST_SUITE_P(Platforms, Suite, ::testing::ValuesIn(sharedTestPlatforms()), platformTestName).
 */
inline const std::vector<std::string>& sharedTestPlatforms() {
    static const std::vector<std::string> platforms = {"Reference", "CPU", "CUDA:single", "CUDA:mixed", "CUDA:double"};
    return platforms;
}

/** A test-name suffix for a sharedTestPlatforms() entry ("CUDA:single" becomes "CUDA_single"). */
inline std::string platformTestName(const ::testing::TestParamInfo<std::string>& info) {
    std::string name = info.param;
    std::replace(name.begin(), name.end(), ':', '_');
    return name;
}

/**
 * Fixture for test bodies shared across platforms: the parameter is an entry of
 * sharedTestPlatforms(), a platform name with an optional ":precision". SetUp() skips the test
 * (GTEST_SKIP, with the reason) when the platform is CUDA and no CUDA device is usable, and
 * otherwise sets the platform's default "Precision" property, so that every Context the test
 * creates on it, inner Contexts included, runs in that precision.
 */
class PlatformTest : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        loadOpenMMBGPlugins();
        const std::string& parameter = GetParam();
        const size_t colon = parameter.find(':');
        platformName = parameter.substr(0, colon);
        precision = colon == std::string::npos ? "" : parameter.substr(colon + 1);
        if (platformName == "CUDA" && !cudaPlatformUsable())
            GTEST_SKIP() << "no usable CUDA device: the " << parameter << " instance is skipped";
        platform = &OpenMM::Platform::getPlatformByName(platformName);
        if (!precision.empty())
            platform->setPropertyDefaultValue("Precision", precision);
    }
    /**
     * Skip the test (GTEST_SKIP) when the platform lacks one of these kernels (the CUDA plugin has
     * no BoltzmannGeneratorIntegrator kernel yet). Call it in SetUp() after PlatformTest::SetUp().
     */
    void skipUnlessSupported(const std::vector<std::string>& kernelNames) {
        if (platform != nullptr && !platform->supportsKernels(kernelNames))
            GTEST_SKIP() << "the " << GetParam() << " platform has no kernel for " << kernelNames.front();
    }
    /** Whether the platform computes in single or mixed precision (energies and forces in float). */
    bool lowPrecision() const {
        return precision == "single" || precision == "mixed";
    }
    /**
     * The tolerance of a comparison that holds to `doublePrecision` in double arithmetic: the same
     * on Reference, CPU and CUDA double; where OpenMM computes in float (CUDA single and mixed) at
     * least 1e-4 * magnitude, magnitude being the size of the compared values when the tolerance
     * is absolute (1 when the caller scales it).
     */
    double tolerance(double doublePrecision, double magnitude = 1.0) const {
        return lowPrecision() ? std::max(doublePrecision, 1e-4 * magnitude) : doublePrecision;
    }
    /**
     * actual == expected as EXPECT_DOUBLE_EQ checks it (4 ULP) on Reference, CPU and CUDA double;
     * within 1e-4 * max(|expected|, 1) where OpenMM computes in float (CUDA single and mixed).
     */
    void expectEqualInPrecision(double actual, double expected) const {
        if (lowPrecision())
            EXPECT_NEAR(actual, expected, 1e-4 * std::max(std::abs(expected), 1.0));
        else
            EXPECT_DOUBLE_EQ(actual, expected);
    }
    OpenMM::Platform* platform = nullptr;
    std::string platformName;   ///< the platform's name, without the precision ("CUDA")
    std::string precision;      ///< "single", "mixed", "double", or empty for Reference and CPU
};

#endif
