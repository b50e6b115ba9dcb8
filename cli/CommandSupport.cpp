#include "CommandSupport.h"

#include "bg/Ramachandran.h"
#include "openmm/OpenMMException.h"
#include "openmm/Platform.h"

#include <torch/torch.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace BoltzmannPlugin {
namespace cli {

void loadOpenMMPlugins() {
    static bool loaded = false;
    if (loaded)
        return;
    loaded = true;
    std::string directory = OpenMM::Platform::getDefaultPluginsDirectory();
#ifdef OPENMM_PLUGIN_DIR
    if (std::getenv("OPENMM_PLUGIN_DIR") == nullptr)
        directory = OPENMM_PLUGIN_DIR;
#endif
    try {
        OpenMM::Platform::loadPluginsFromDirectory(directory);
    }
    catch (const std::exception&) {
        // The Reference platform is built in; the CPU platform is optional.
    }
}

std::string platformName() {
    for (int i = 0; i < OpenMM::Platform::getNumPlatforms(); i++)
        if (OpenMM::Platform::getPlatform(i).getName() == "CPU")
            return "CPU";
    return "Reference";
}

ReferenceProblem findProblem(const std::string& name) {
    try {
        return referenceProblem(name);
    }
    catch (const OpenMM::OpenMMException& e) {
        throw UsageError(e.what());
    }
}

std::string dataDirectory(const std::string& requested) {
    try {
        return findDataDirectory(requested);
    }
    catch (const OpenMM::OpenMMException& e) {
        throw UsageError(e.what());
    }
}

std::unique_ptr<SystemTarget> makeTarget(const ReferenceProblem& problem, const std::string& dataDirectory, double temperature, int workers) {
    loadOpenMMPlugins();
    try {
        return std::unique_ptr<SystemTarget>(
                createReferenceProblemTarget(problem, dataDirectory, temperature, platformName(), workers));
    }
    catch (const OpenMM::OpenMMException& e) {
        throw UsageError(e.what());
    }
}

double targetTemperature(const ReferenceProblem& problem, double requested) {
    return requested > 0 ? requested : problem.temperature;
}

void writeText(const std::string& path, const std::string& text) {
    std::ofstream out(path);
    out << text << "\n";
    if (!out)
        throw std::runtime_error("cannot write " + path);
}

namespace {

/** Ramachandran figures of alanine dipeptide flow samples against reference configurations. */
bg::EvaluationHook ramachandranHook(const torch::Tensor& reference) {
    torch::Tensor refPhi = bg::alanineDipeptidePhi(reference), refPsi = bg::alanineDipeptidePsi(reference);
    return [refPhi, refPsi](bg::GenerativeModel&, const bg::EvaluationSamples& samples) {
        bg::NamedValues values;
        torch::Tensor x = samples.x.to(torch::kFloat64);
        torch::Tensor phi = bg::alanineDipeptidePhi(x), psi = bg::alanineDipeptidePsi(x);
        torch::Tensor isL = bg::isLAlanine(x);
        values.emplace_back("l_fraction", isL.to(torch::kFloat64).mean().item<double>());
        values.emplace_back("phi_kld", bg::angleKld(refPhi, phi));
        values.emplace_back("psi_kld", bg::angleKld(refPsi, psi));
        values.emplace_back("ramachandran_kld", bg::ramachandranKld(refPhi, refPsi, phi, psi));
        // The same divergences on the L-form samples alone (the reference data are L-alanine; an
        // SE(3)-equivariant flow may also produce its mirror image); undefined without any.
        torch::Tensor phiL = phi.masked_select(isL), psiL = psi.masked_select(isL);
        const bool anyL = isL.any().item<bool>();
        values.emplace_back("phi_kld_l", anyL ? bg::angleKld(refPhi, phiL) : NAN);
        values.emplace_back("psi_kld_l", anyL ? bg::angleKld(refPsi, psiL) : NAN);
        values.emplace_back("ramachandran_kld_l", anyL ? bg::ramachandranKld(refPhi, refPsi, phiL, psiL) : NAN);
        return values;
    };
}

} // namespace

bg::EvaluationHook evaluationHook(const ReferenceProblem& problem, const torch::Tensor& reference) {
    if (!reference.defined())
        return nullptr;
    std::vector<bg::EvaluationHook> hooks;
    for (const std::string& extra : problem.evaluation) {
        if (extra == "ramachandran")
            hooks.push_back(ramachandranHook(reference));
        else
            throw UsageError(problem.name + ": unknown evaluation '" + extra + "' (ramachandran)");
    }
    if (hooks.empty())
        return nullptr;
    return [hooks](bg::GenerativeModel& model, const bg::EvaluationSamples& samples) {
        bg::NamedValues values;
        for (const bg::EvaluationHook& hook : hooks) {
            bg::NamedValues extra = hook(model, samples);
            values.insert(values.end(), extra.begin(), extra.end());
        }
        return values;
    };
}

} // namespace cli
} // namespace BoltzmannPlugin
