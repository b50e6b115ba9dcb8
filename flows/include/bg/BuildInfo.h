#ifndef BG_BUILD_INFO_H_
#define BG_BUILD_INFO_H_

#include <string>

namespace bg {

/**
 * Facts about how bgflows was built, for installation reports and load-time checks.
 */
struct BuildInfo {
    /** The openmm-bg version string. */
    static std::string version();
    /** The LibTorch version bgflows was compiled against (e.g. "2.15.0"). */
    static std::string torchVersion();
    /** The value of _GLIBCXX_USE_CXX11_ABI bgflows was compiled with (0 or 1). */
    static int cxx11Abi();
    /** Whether LibTorch can see a CUDA device at run time. */
    static bool cudaAvailable();
};

} // namespace bg

#endif
