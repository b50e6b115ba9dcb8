#include "CommandSupport.h"

#include "bg/Ramachandran.h"
#include "openmm/OpenMMException.h"
#include "openmm/Platform.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <ostream>
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

void printFigures(std::ostream& out, const bg::NamedValues& values) {
    size_t width = 22;
    for (const auto& entry : values)
        width = std::max(width, entry.first.size());
    const std::ios_base::fmtflags flags = out.flags();
    const std::streamsize precision = out.precision();
    out << std::defaultfloat;
    for (const auto& [name, value] : values)
        out << "  " << std::left << std::setw(int(width) + 2) << name << std::right << std::setprecision(6) << value << "\n";
    out.flags(flags);
    out.precision(precision);
}

namespace {

/** phi_kld, psi_kld and ramachandran_kld of angles (phi, psi) against the reference angles, names ending in `suffix`. */
void appendKlds(bg::NamedValues& values, const std::string& suffix, const torch::Tensor& refPhi, const torch::Tensor& refPsi,
                const torch::Tensor& phi, const torch::Tensor& psi) {
    const bool any = phi.numel() > 0;
    values.emplace_back("phi_kld" + suffix, any ? bg::angleKld(refPhi, phi) : NAN);
    values.emplace_back("psi_kld" + suffix, any ? bg::angleKld(refPsi, psi) : NAN);
    values.emplace_back("ramachandran_kld" + suffix, any ? bg::ramachandranKld(refPhi, refPsi, phi, psi) : NAN);
}

/** min(n, number of frames) of `frames` [m], evenly spaced along the chain (the least correlated choice); empty if undefined. */
torch::Tensor evenlySpaced(const torch::Tensor& frames, int64_t n) {
    if (!frames.defined() || n <= 0)
        return torch::empty({0}, torch::kFloat64);
    const int64_t count = std::min(n, frames.size(0));
    return frames.index_select(0, torch::linspace(0, frames.size(0) - 1, count, torch::kFloat64).round().to(torch::kInt64));
}

/** Ramachandran figures of alanine dipeptide flow samples against reference configurations, with their MD floors. */
bg::EvaluationHook ramachandranHook(const torch::Tensor& reference, const torch::Tensor& mdFrames) {
    torch::Tensor refPhi = bg::alanineDipeptidePhi(reference), refPsi = bg::alanineDipeptidePsi(reference);
    torch::Tensor mdPhi, mdPsi;
    if (mdFrames.defined()) {
        mdPhi = bg::alanineDipeptidePhi(mdFrames.to(torch::kFloat64));
        mdPsi = bg::alanineDipeptidePsi(mdFrames.to(torch::kFloat64));
    }
    return [refPhi, refPsi, mdPhi, mdPsi](bg::GenerativeModel&, const bg::EvaluationSamples& samples) {
        bg::NamedValues values;
        torch::Tensor x = samples.x.to(torch::kFloat64);
        torch::Tensor phi = bg::alanineDipeptidePhi(x), psi = bg::alanineDipeptidePsi(x);
        torch::Tensor isL = bg::isLAlanine(x);
        values.emplace_back("l_fraction", isL.to(torch::kFloat64).mean().item<double>());
        appendKlds(values, "", refPhi, refPsi, phi, psi);
        // The same divergences on the L-form samples alone (the reference data are L-alanine; an
        // SE(3)-equivariant flow may also produce its mirror image); undefined without any.
        appendKlds(values, "_l", refPhi, refPsi, phi.masked_select(isL), psi.masked_select(isL));
        // The floors: the same divergences for as many MD frames (L-alanine, independent of the
        // reference) as there are samples and L-form samples. At a few thousand configurations
        // the histograms' empty bins dominate the divergences, and a flow is as good as MD once
        // it reaches these values.
        const int64_t n = x.size(0), nL = isL.sum().item<int64_t>();
        appendKlds(values, "_floor", refPhi, refPsi, evenlySpaced(mdPhi, n), evenlySpaced(mdPsi, n));
        appendKlds(values, "_l_floor", refPhi, refPsi, evenlySpaced(mdPhi, nL), evenlySpaced(mdPsi, nL));
        return values;
    };
}

} // namespace

bg::EvaluationHook evaluationHook(const ReferenceProblem& problem, const torch::Tensor& reference, const torch::Tensor& mdFrames) {
    if (!reference.defined())
        return nullptr;
    std::vector<bg::EvaluationHook> hooks;
    for (const std::string& extra : problem.evaluation) {
        if (extra == "ramachandran")
            hooks.push_back(ramachandranHook(reference, mdFrames));
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
