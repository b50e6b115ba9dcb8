#ifndef BG_TESTS_CNF_TEST_UTILITIES_H_
#define BG_TESTS_CNF_TEST_UTILITIES_H_

// Small E-CNFs for the tests of the model, its training and the model interface.

#include "bg/EquivariantCnf.h"

#include <torch/torch.h>

#include <string>

namespace bgtest {

/** A small float64 E-CNF configuration: 2 EGCL layers of width 16, 8 invariant features. */
inline bg::CnfConfig smallCnfConfig(int n, int d) {
    bg::CnfConfig c = bg::CnfConfig::fromJson(R"({"egnnLayers": 2, "egnnWidth": 16, "invariantFeatures": 8, "dtype": "float64"})");
    c.numParticles = n;
    c.dimension = d;
    return c;
}

/**
 * A CNF whose field is far from zero (coordinate heads scaled up from their 0.001 init) but smooth in
 * time: with random weights the 1000 t sinusoid makes v oscillate fast in t, which a trained field
 * does not, so the time conditioning is scaled down. Parameters from torch::manual_seed(11).
 */
inline bg::EquivariantCnf nonTrivialCnf(const bg::CnfConfig& config) {
    torch::manual_seed(11);
    bg::EquivariantCnf cnf(config);
    torch::NoGradGuard noGrad;
    for (auto& p : cnf->named_parameters())
        if (p.key().find("coordOut") != std::string::npos)
            p.value().mul_(30.0);
        else if (p.key().find("conditioning") != std::string::npos)
            p.value().mul_(0.01);
    return cnf;
}

} // namespace bgtest

#endif
