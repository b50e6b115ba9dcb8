// The registry of reference problems (data/problems/*.json): the problems and their facts, agreement
// with the System factories, their targets over all particles, unknown names refused with the known
// ones listed, OPENMMBG_DATA_DIR overriding the lookup (a new problem is a new file), malformed files
// refused.

#include "ReferenceProblems.h"
#include "ReferenceSystems.h"
#include "SystemTarget.h"
#include "openmm/OpenMMException.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
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
    EXPECT_EQ(dw4.methodNames(), (std::vector<std::string>{"fab", "fm", "ml"}));
    EXPECT_EQ(referenceProblem("lj13").temperature, referenceSystemTemperature());
    const ReferenceProblem aldp = referenceProblem("aldp");
    EXPECT_EQ(aldp.temperature, alanineDipeptideDefaultTemperature());
    EXPECT_EQ(aldp.referenceSet(800.0), "aldp800");
    EXPECT_EQ(aldp.referenceSet(300.0), "aldp300");
    EXPECT_TRUE(aldp.hasEvaluation("ramachandran"));
    EXPECT_FALSE(dw4.hasEvaluation("ramachandran"));
    // The method's settings are merged over the shared ones.
    EXPECT_NE(aldp.trainingPresets.at("fab").find("\"batchSize\":32"), std::string::npos) << aldp.trainingPresets.at("fab");
    EXPECT_NE(aldp.trainingPresets.at("fab").find("\"ignoreFactor\":20.0"), std::string::npos) << aldp.trainingPresets.at("fab");
    // The shared flow settings are the E-ACF's: the E-CNF's preset ("model": "ecnf") starts without them.
    EXPECT_NE(aldp.flowPresets.at("fab").find("\"numBlocks\":6"), std::string::npos) << aldp.flowPresets.at("fab");
    EXPECT_NE(aldp.flowPresets.at("fab").find("\"scalingBlock\":true"), std::string::npos) << aldp.flowPresets.at("fab");
    EXPECT_EQ(aldp.flowPresets.at("fm").find("numBlocks"), std::string::npos) << aldp.flowPresets.at("fm");
    EXPECT_NE(aldp.flowPresets.at("fm").find("\"model\":\"ecnf\""), std::string::npos) << aldp.flowPresets.at("fm");
    EXPECT_NE(aldp.trainingPresets.at("fm").find("\"ignoreFactor\":20.0"), std::string::npos) << aldp.trainingPresets.at("fm");
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

TEST(ReferenceProblems, TargetsModelEveryParticleAtTheirTemperature) {
    // DW4 on a square of side d0 = 4 nm: the four sides sit at the minimum s = 0 of the pair energy
    // a s + b s^2 + c s^4 (a = 0, b = -4, c = 0.9, reduced units at 300 K), the two diagonals at
    // s = 4 sqrt(2) - 4; u scales with 300 K / T.
    const ReferenceProblem dw4 = referenceProblem("dw4");
    torch::Tensor square = torch::tensor({0.0, 0.0, 4.0, 0.0, 4.0, 4.0, 0.0, 4.0}, torch::kFloat64).view({1, 4, 2});
    const double s = 4.0 * std::sqrt(2.0) - 4.0, reduced = 2 * (-4.0 * s * s + 0.9 * std::pow(s, 4));
    for (double temperature : {300.0, 600.0}) {
        std::unique_ptr<SystemTarget> target(createReferenceProblemTarget(dw4, findDataDirectory(), temperature, "Reference", 1));
        EXPECT_EQ(target->numParticles(), 4);
        EXPECT_EQ(target->dimension(), 2);
        const double u = target->evaluate(square, false).energy.item<double>();
        EXPECT_NEAR(u, reduced * 300.0 / temperature, 1e-9 * std::abs(reduced));
    }
    std::unique_ptr<SystemTarget> lj13(createReferenceProblemTarget(referenceProblem("lj13"), findDataDirectory(), 300.0, "Reference", 1));
    EXPECT_EQ(lj13->numParticles(), 13);
    EXPECT_EQ(lj13->dimension(), 3);
    const std::string message = messageOf([&] { delete createReferenceProblemTarget(dw4, findDataDirectory(), 300.0, "NoSuchPlatform", 1); });
    EXPECT_NE(message.find("SystemTarget: unknown platform 'NoSuchPlatform'"), std::string::npos) << message;
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
