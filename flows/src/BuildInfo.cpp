#include "bg/BuildInfo.h"

#include <torch/cuda.h>
#include <torch/version.h>

namespace bg {

std::string BuildInfo::version() {
    return OPENMMBG_VERSION;
}

std::string BuildInfo::torchVersion() {
    return TORCH_VERSION;
}

int BuildInfo::cxx11Abi() {
    return _GLIBCXX_USE_CXX11_ABI;
}

bool BuildInfo::cudaAvailable() {
    return torch::cuda::is_available();
}

} // namespace bg
