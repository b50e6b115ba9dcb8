// The registry of reference problems (data/problems/*.json): the problems and their facts, agreement
// with the System factories, unknown names refused with the known ones listed, OPENMMBG_DATA_DIR
// overriding the lookup (a new problem is a new file), malformed files refused.

#include "ReferenceProblems.h"
#include "ReferenceSystems.h"
#include "openmm/OpenMMException.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

using namespace BoltzmannPlugin;
namespace fs = std::filesystem;

namespace {

/** Sets OPENMMBG_DATA_DIR to a fresh directory with a copy of the problem files for its lifetime. */
struct DataDirectoryCopy {
    fs::path root;
    DataDirectoryCopy() {
        const fs::path source = referenceProblemsDirectory();
        root = fs::temp_directory_path() / ("openmmbg-problems-" + std::to_string(::getpid()));
        fs::remove_all(root);
        fs::create_directories(root);
        fs::copy(source, root / "problems");
        setenv("OPENMMBG_DATA_DIR", root.c_str(), 1);
    }
    ~DataDirectoryCopy() {
        unsetenv("OPENMMBG_DATA_DIR");
        fs::remove_all(root);
    }
    void write(const std::string& name, const std::string& text) const { std::ofstream(root / "problems" / (name + ".json")) << text; }
};

std::string messageOf(const std::function<void()>& f) {
    try {
        f();
    }
    catch (const OpenMM::OpenMMException& e) {
        return e.what();
    }
    return "";
}

} // namespace

TEST(ReferenceProblems, NamesAndFacts) {
    EXPECT_EQ(referenceProblemNames(), (std::vector<std::string>{"aldp", "dw4", "lj13"}));
    const ReferenceProblem dw4 = referenceProblem("dw4");
    EXPECT_EQ(dw4.numParticles, 4);
    EXPECT_EQ(dw4.dimension, 2);
    EXPECT_EQ(dw4.temperature, referenceSystemTemperature());
    EXPECT_EQ(dw4.referenceSet(300.0), "dw4");
    EXPECT_EQ(dw4.referenceSet(400.0), "");
    EXPECT_EQ(dw4.methodNames(), (std::vector<std::string>{"fab", "ml"}));
    EXPECT_EQ(referenceProblem("lj13").temperature, referenceSystemTemperature());
    const ReferenceProblem aldp = referenceProblem("aldp");
    EXPECT_EQ(aldp.temperature, alanineDipeptideDefaultTemperature());
    EXPECT_EQ(aldp.referenceSet(800.0), "aldp800");
    EXPECT_EQ(aldp.referenceSet(300.0), "aldp300");
    EXPECT_TRUE(aldp.hasEvaluation("ramachandran"));
    EXPECT_FALSE(dw4.hasEvaluation("ramachandran"));
    // The method's settings are merged over the shared ones.
    EXPECT_NE(aldp.trainingPresets.at("fab").find("\"batchSize\":128"), std::string::npos) << aldp.trainingPresets.at("fab");
    EXPECT_NE(aldp.trainingPresets.at("fab").find("\"ignoreFactor\":20.0"), std::string::npos) << aldp.trainingPresets.at("fab");
}

TEST(ReferenceProblems, SystemsComeFromTheFactories) {
    for (const std::string& name : referenceProblemNames()) {
        const ReferenceProblem problem = referenceProblem(name);
        std::vector<OpenMM::Vec3> positions;
        std::unique_ptr<OpenMM::System> system(createReferenceProblemSystem(problem, findDataDirectory(), positions));
        EXPECT_EQ(system->getNumParticles(), problem.numParticles) << name;
        EXPECT_EQ((int) positions.size(), problem.numParticles) << name;
    }
    std::vector<OpenMM::Vec3> positions;
    std::unique_ptr<OpenMM::System> aldp(createReferenceProblemSystem(referenceProblem("aldp"), findDataDirectory(), positions));
    EXPECT_NE(positions[8][0], 0.0);   // the minimised structure, not zeros
}

TEST(ReferenceProblems, UnknownNamesAreRefusedWithTheKnownOnes) {
    const std::string message = messageOf([] { referenceProblem("dw5"); });
    EXPECT_NE(message.find("ReferenceProblems: unknown problem 'dw5' (known: aldp, dw4, lj13)"), std::string::npos) << message;
}

TEST(ReferenceProblems, ANewProblemIsANewFile) {
    DataDirectoryCopy data;
    data.write("toy", R"({"name": "toy", "numParticles": 3, "dimension": 3, "temperature": 250,
                          "flow": {"eta": 0.2}, "methods": {"ml": {"training": {"epochs": 5}}}})");
    EXPECT_EQ(referenceProblemsDirectory(), fs::weakly_canonical(data.root / "problems").string());
    EXPECT_EQ(referenceProblemNames(), (std::vector<std::string>{"aldp", "dw4", "lj13", "toy"}));
    const ReferenceProblem toy = referenceProblem("toy");
    EXPECT_EQ(toy.flowPresets.at("ml"), R"({"eta":0.2})");
    EXPECT_EQ(toy.trainingPresets.at("ml"), R"({"epochs":5})");
    std::vector<OpenMM::Vec3> positions;
    const std::string message = messageOf([&] { delete createReferenceProblemSystem(toy, "", positions); });
    EXPECT_NE(message.find("no System factory for the problem 'toy'"), std::string::npos) << message;
}

TEST(ReferenceProblems, MalformedFilesAreRefused) {
    DataDirectoryCopy data;
    const std::vector<std::pair<std::string, std::string>> cases = {
        {R"({"name": "bad", "name": "bad"})", "duplicate key 'name'"},
        {R"({"name": "bad", "numParticles": 3, "dimension": 3, "temperature": 300, "methods": {}, "colour": 1})", "unknown key 'colour'"},
        {R"({"name": "other", "numParticles": 3, "dimension": 3, "temperature": 300, "methods": {}})", "differs from the file name"},
        {R"({"name": "bad", "numParticles": 3, "dimension": 4, "temperature": 300, "methods": {}})", "dimension 2 or 3"},
        {R"({"name": "bad", "numParticles": 3, "dimension": 3, "temperature": 300})", "missing key 'methods'"},
        {R"({"name": "bad", "numParticles": "3", "dimension": 3, "temperature": 300, "methods": {}})", "'numParticles' has the wrong type"},
        {R"([1, 2])", "bad.json"},
    };
    for (const auto& [text, expected] : cases) {
        data.write("bad", text);
        const std::string message = messageOf([] { referenceProblem("bad"); });
        EXPECT_NE(message.find(expected), std::string::npos) << text << " -> " << message;
    }
}
