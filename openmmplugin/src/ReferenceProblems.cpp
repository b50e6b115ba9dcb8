#include "ReferenceProblems.h"

#include "ReferenceSystems.h"
#include "SystemTarget.h"
#include "bg/JsonText.h"
#include "openmm/OpenMMException.h"

#include <dlfcn.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <numeric>
#include <set>
#include <sstream>

namespace BoltzmannPlugin {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const char* const ERROR_PREFIX = "ReferenceProblems: ";

[[noreturn]] void fail(const std::string& message) {
    throw OpenMM::OpenMMException(ERROR_PREFIX + message);
}

/** The System factories of the reference problems, by problem name. A factory may fill the positions (else zeros). */
using SystemFactory = std::function<OpenMM::System*(const std::string& dataDirectory, std::vector<OpenMM::Vec3>& positions)>;

const std::map<std::string, SystemFactory>& systemFactories() {
    static const std::map<std::string, SystemFactory> factories = {
        {"dw4", [](const std::string&, std::vector<OpenMM::Vec3>&) { return createDoubleWell4System(); }},
        {"lj13", [](const std::string&, std::vector<OpenMM::Vec3>&) { return createLennardJones13System(); }},
        {"aldp",
         [](const std::string& dataDirectory, std::vector<OpenMM::Vec3>& positions) {
             positions = alanineDipeptidePositions(dataDirectory);
             return createAlanineDipeptideSystem(dataDirectory);
         }},
    };
    return factories;
}

std::string joined(const std::vector<std::string>& names) {
    std::string text;
    for (const std::string& name : names)
        text += (text.empty() ? "" : ", ") + name;
    return text;
}

/** The directory of the shared library holding this code ("" if unknown). */
fs::path libraryDirectory() {
    Dl_info info;
    if (dladdr(reinterpret_cast<void*>(&dataDirectoryCandidates), &info) == 0 || info.dli_fname == nullptr)
        return fs::path();
    std::error_code ec;
    fs::path library = fs::canonical(info.dli_fname, ec);
    return ec ? fs::path() : library.parent_path();
}

json readProblemFile(const fs::path& path) {
    std::ifstream in(path);
    if (!in)
        fail("cannot read " + path.string());
    std::stringstream text;
    text << in.rdbuf();
    try {
        bg::checkJsonObjectText(text.str(), path.string());   // malformed, not an object, or repeated keys
        return json::parse(text.str());
    }
    catch (const std::exception& e) {
        fail(e.what());
    }
}

/** A key of a problem file, checked for its JSON type; `fallback` if absent and not required. */
json field(const json& j, const std::string& key, json::value_t type, const std::string& file, const json& fallback = json()) {
    if (!j.contains(key)) {
        if (fallback.is_null())
            fail(file + ": missing key '" + key + "'");
        return fallback;
    }
    const json& value = j.at(key);
    const bool ok = type == json::value_t::number_float ? value.is_number() : value.type() == type;
    if (!ok)
        fail(file + ": '" + key + "' has the wrong type");
    return value;
}

void parsePresets(const json& j, const std::string& file, ReferenceProblem& p) {
    const json sharedFlow = field(j, "flow", json::value_t::object, file, json::object());
    const json sharedTraining = field(j, "training", json::value_t::object, file, json::object());
    const json methods = field(j, "methods", json::value_t::object, file);
    for (const auto& [method, settings] : methods.items()) {
        if (!settings.is_object())
            fail(file + ": methods." + method + " must be an object");
        for (const auto& [key, value] : settings.items())
            if ((key != "flow" && key != "training") || !value.is_object())
                fail(file + ": methods." + method + "." + key + ": expected the objects 'flow' and 'training'");
        // The shared flow settings are the E-ACF's: a method whose flow names another model ("model":
        // "ecnf") starts from that model's defaults alone.
        const json methodFlow = settings.value("flow", json::object());
        const json model = methodFlow.value("model", json("eacf"));
        json flow = model == json("eacf") ? sharedFlow : json::object(), training = sharedTraining;
        flow.merge_patch(methodFlow);
        training.merge_patch(settings.value("training", json::object()));
        p.flowPresets[method] = flow.dump();
        p.trainingPresets[method] = training.dump();
    }
}

ReferenceProblem parseProblem(const json& j, const std::string& name, const std::string& file) {
    static const std::set<std::string> known = {"name", "description", "numParticles", "dimension", "temperature", "referenceSets",
                                                "evaluation", "flow", "training", "methods"};
    for (const auto& item : j.items())
        if (known.count(item.key()) == 0)
            fail(file + ": unknown key '" + item.key() + "'");
    ReferenceProblem p;
    p.name = field(j, "name", json::value_t::string, file).get<std::string>();
    if (p.name != name)
        fail(file + ": name '" + p.name + "' differs from the file name");
    p.description = field(j, "description", json::value_t::string, file, "").get<std::string>();
    p.numParticles = field(j, "numParticles", json::value_t::number_unsigned, file).get<int>();
    p.dimension = field(j, "dimension", json::value_t::number_unsigned, file).get<int>();
    p.temperature = field(j, "temperature", json::value_t::number_float, file).get<double>();
    if (p.numParticles < 1 || (p.dimension != 2 && p.dimension != 3) || !(p.temperature > 0.0) || !std::isfinite(p.temperature))
        fail(file + ": numParticles must be positive, dimension 2 or 3, temperature positive and finite (K)");
    for (const json& s : field(j, "referenceSets", json::value_t::array, file, json::array())) {
        if (!s.is_object())
            fail(file + ": referenceSets holds objects {\"set\", \"temperature\"}");
        p.referenceSets.push_back({field(s, "set", json::value_t::string, file).get<std::string>(),
                                   field(s, "temperature", json::value_t::number_float, file).get<double>()});
    }
    for (const json& e : field(j, "evaluation", json::value_t::array, file, json::array())) {
        if (!e.is_string())
            fail(file + ": evaluation holds names");
        p.evaluation.push_back(e.get<std::string>());
    }
    parsePresets(j, file, p);
    return p;
}

} // namespace

std::string ReferenceProblem::referenceSet(double t) const {
    for (const ReferenceDataSet& s : referenceSets)
        if (std::abs(s.temperature - t) < 1e-9)
            return s.set;
    return "";
}

std::vector<std::string> ReferenceProblem::methodNames() const {
    std::vector<std::string> names;
    for (const auto& item : flowPresets)
        names.push_back(item.first);
    return names;
}

bool ReferenceProblem::hasEvaluation(const std::string& extra) const {
    return std::find(evaluation.begin(), evaluation.end(), extra) != evaluation.end();
}

std::string ReferenceProblem::toJson() const {
    json sets = json::array(), presets = json::object();
    for (const ReferenceDataSet& s : referenceSets)
        sets.push_back({{"set", s.set}, {"temperature", s.temperature}});
    for (const std::string& method : methodNames())
        presets[method] = {{"flow", json::parse(flowPresets.at(method))}, {"training", json::parse(trainingPresets.at(method))}};
    json j = {{"name", name},           {"description", description}, {"numParticles", numParticles}, {"dimension", dimension},
              {"temperature", temperature}, {"referenceSets", sets},   {"evaluation", evaluation},     {"presets", presets}};
    return j.dump(2);
}

std::vector<std::string> dataDirectoryCandidates() {
    std::vector<fs::path> candidates;
    if (const char* env = std::getenv("OPENMMBG_DATA_DIR"))
        candidates.emplace_back(env);
    const fs::path library = libraryDirectory();
    if (!library.empty()) {
        candidates.push_back(library / ".." / "data");   // the pip-installed package: openmmbg/lib, openmmbg/data
        candidates.push_back(library / ".." / "share" / "openmm-bg" / "data");
    }
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        const fs::path dir = exe.parent_path();
        candidates.push_back(dir / ".." / ".." / "data");
        candidates.push_back(dir / ".." / "data");
        candidates.push_back(dir / ".." / "share" / "openmm-bg" / "data");
    }
#ifdef OPENMMBG_SOURCE_DATA_DIR
    candidates.emplace_back(OPENMMBG_SOURCE_DATA_DIR);
#endif
    std::vector<std::string> paths;
    for (const fs::path& c : candidates)
        paths.push_back(c.string());
    return paths;
}

std::string findDataDirectory(const std::string& requested) {
    if (!requested.empty()) {
        if (!fs::is_directory(requested))
            throw OpenMM::OpenMMException("the data directory " + requested + " does not exist");
        return requested;
    }
    std::string tried;
    for (const fs::path c : dataDirectoryCandidates()) {
        if (fs::is_directory(c / "reference") || fs::exists(c / alanineDipeptideStructureFile()))
            return fs::weakly_canonical(c).string();
        tried += "\n  " + c.string();
    }
    throw OpenMM::OpenMMException("cannot find the openmm-bg data directory; pass --data-dir or set OPENMMBG_DATA_DIR. Tried:" + tried);
}

std::string referenceProblemsDirectory() {
    std::string tried;
    for (const fs::path c : dataDirectoryCandidates()) {
        std::error_code ec;
        if (fs::is_directory(c / "problems", ec))
            for (const fs::directory_entry& entry : fs::directory_iterator(c / "problems", ec))
                if (entry.path().extension() == ".json")
                    return fs::weakly_canonical(c / "problems").string();
        tried += "\n  " + (c / "problems").string();
    }
    fail("cannot find the problem files (problems/*.json); set OPENMMBG_DATA_DIR. Tried:" + tried);
}

std::vector<std::string> referenceProblemNames() {
    std::vector<std::string> names;
    for (const fs::directory_entry& entry : fs::directory_iterator(referenceProblemsDirectory()))
        if (entry.path().extension() == ".json")
            names.push_back(entry.path().stem().string());
    std::sort(names.begin(), names.end());
    return names;
}

ReferenceProblem referenceProblem(const std::string& name) {
    const std::vector<std::string> names = referenceProblemNames();
    if (std::find(names.begin(), names.end(), name) == names.end())
        fail("unknown problem '" + name + "' (known: " + joined(names) + ")");
    const fs::path file = fs::path(referenceProblemsDirectory()) / (name + ".json");
    return parseProblem(readProblemFile(file), name, file.string());
}

OpenMM::System* createReferenceProblemSystem(const ReferenceProblem& problem, const std::string& dataDirectory,
                                             std::vector<OpenMM::Vec3>& positions) {
    const auto& factories = systemFactories();
    auto factory = factories.find(problem.name);
    if (factory == factories.end()) {
        std::vector<std::string> names;
        for (const auto& item : factories)
            names.push_back(item.first);
        fail("no System factory for the problem '" + problem.name + "' (factories: " + joined(names) + ")");
    }
    positions.clear();
    OpenMM::System* system = factory->second(dataDirectory, positions);
    if (positions.empty())
        positions.assign(system->getNumParticles(), OpenMM::Vec3());
    if (system->getNumParticles() != problem.numParticles) {
        const int n = system->getNumParticles();
        delete system;
        fail("the System of '" + problem.name + "' has " + std::to_string(n) + " particles, its problem file says " +
             std::to_string(problem.numParticles));
    }
    return system;
}

SystemTarget* createReferenceProblemTarget(const ReferenceProblem& problem, const std::string& dataDirectory, double temperature,
                                           const std::string& platformName, int workers) {
    std::vector<OpenMM::Vec3> positions;
    std::unique_ptr<OpenMM::System> system(createReferenceProblemSystem(problem, dataDirectory, positions));
    std::vector<int> particles(system->getNumParticles());
    std::iota(particles.begin(), particles.end(), 0);
    return new SystemTarget(*system, temperature, particles, positions, platformName, workers, problem.dimension,
                            std::map<std::string, std::string>(), false);
}

} // namespace BoltzmannPlugin
