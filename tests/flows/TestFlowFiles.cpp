// What openmm-bg writes is checked when read back: the CRC-32 checksum (bg/Checksum.h), saved-flow
// bytes ("BGFLOW2" with a checksum, "BGFLOW1" still read), readFlowConfig() and the shared
// training-state serialiser (bg/TrainingState.h).

#include "TrainingTestUtilities.h"
#include "bg/AugmentedCouplingFlow.h"
#include "bg/Checksum.h"
#include "bg/SavedFlow.h"
#include "bg/MaximumLikelihoodMethod.h"
#include "bg/Optimizer.h"
#include "bg/TrainingMethodFactory.h"
#include "bg/TrainingState.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>

using namespace bg;

namespace {

// Expect std::invalid_argument whose message contains fragment.
template <class F>
void expectInvalidArgument(F f, const std::string& fragment) {
    try {
        f();
        FAIL() << "expected std::invalid_argument containing '" << fragment << "'";
    }
    catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
}

AugmentedCouplingFlow tinyFlow(int numParticles = 3) {
    torch::manual_seed(3);
    return AugmentedCouplingFlow(bgtest::tinyFlowConfig(numParticles, 2));
}

bool sameParameters(AugmentedCouplingFlow& a, AugmentedCouplingFlow& b) {
    auto pa = a->named_parameters(), pb = b->named_parameters();
    if (pa.size() != pb.size())
        return false;
    for (const auto& item : pa)
        if (!torch::equal(item.value(), pb[item.key()]))
            return false;
    return true;
}

// The same flow in the older "BGFLOW1" layout (no checksum): "BGFLOW1\n" <config length> "\n" payload.
std::string asVersion1(const std::string& bytes) {
    const size_t lineEnd = bytes.find('\n', 8);
    std::istringstream header(bytes.substr(8, lineEnd - 8));
    size_t configLength = 0, payloadLength = 0;
    header >> configLength >> payloadLength;
    return "BGFLOW1\n" + std::to_string(configLength) + "\n" + bytes.substr(lineEnd + 1);
}

} // namespace

TEST(Checksum, IsZlibCrc32) {
    // The CRC-32 check value of "123456789" (ISO-HDLC), and of nothing.
    EXPECT_EQ(checksum(std::string("123456789")), 0xCBF43926u);
    EXPECT_EQ(checksum(std::string()), 0u);
    EXPECT_EQ(checksumToHex(0xCBF43926u), "cbf43926");
    EXPECT_EQ(checksumFromHex("cbf43926"), 0xCBF43926u);
    EXPECT_THROW(checksumFromHex("cbf4392"), std::invalid_argument);
    EXPECT_THROW(checksumFromHex("cbf4392g"), std::invalid_argument);
}

TEST(FlowFiles, SavedFlowCarriesAChecksum) {
    AugmentedCouplingFlow flow = tinyFlow();
    const std::string bytes = saveFlow(flow);
    EXPECT_EQ(bytes.compare(0, 8, "BGFLOW2\n"), 0);
    AugmentedCouplingFlow copy = loadFlow(bytes);
    EXPECT_TRUE(sameParameters(flow, copy));
}

TEST(FlowFiles, RefusesAFlippedByte) {
    AugmentedCouplingFlow flow = tinyFlow();
    const std::string bytes = saveFlow(flow);
    // One byte in the middle of the torch archive, one in the configuration JSON, the last one.
    const size_t configStart = bytes.find('\n', 8) + 1;
    for (size_t at : {bytes.size() / 2, configStart + 5, bytes.size() - 1}) {
        std::string corrupted = bytes;
        corrupted[at] ^= 0x10;
        expectInvalidArgument([&] { loadFlow(corrupted); }, "loadFlow: checksum mismatch: the data is corrupted");
        expectInvalidArgument([&] { readFlowConfig(corrupted); }, "checksum mismatch");
    }
}

TEST(FlowFiles, RefusesTruncatedAndExtendedData) {
    AugmentedCouplingFlow flow = tinyFlow();
    const std::string bytes = saveFlow(flow);
    expectInvalidArgument([&] { loadFlow(bytes.substr(0, bytes.size() / 2)); }, "the data is corrupted");
    expectInvalidArgument([&] { loadFlow(bytes.substr(0, bytes.size() - 1)); }, "truncated");
    expectInvalidArgument([&] { loadFlow(bytes.substr(0, 12)); }, "truncated header");
    expectInvalidArgument([&] { loadFlow(bytes + "x"); }, "checksum mismatch");
    expectInvalidArgument([&] { loadFlow("not a flow"); }, "not a saved AugmentedCouplingFlow");
}

TEST(FlowFiles, FilesAreCheckedToo) {
    AugmentedCouplingFlow flow = tinyFlow();
    const std::string path = bgtest::freshDirectory("flow-files") + "/model.bgflow";
    saveFlowToFile(flow, path);
    std::string bytes;
    {
        std::ifstream in(path, std::ios::binary);
        std::stringstream buffer;
        buffer << in.rdbuf();
        bytes = buffer.str();
    }
    bytes[bytes.size() / 2] ^= 0x01;
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(bytes.data(), bytes.size());
    }
    expectInvalidArgument([&] { loadFlowFromFile(path); }, "loadFlow: checksum mismatch: the data is corrupted");
}

TEST(FlowFiles, StillReadsVersion1) {
    AugmentedCouplingFlow flow = tinyFlow();
    const std::string old = asVersion1(saveFlow(flow));
    ASSERT_EQ(old.compare(0, 8, "BGFLOW1\n"), 0);
    AugmentedCouplingFlow copy = loadFlow(old);
    EXPECT_TRUE(sameParameters(flow, copy));
    EXPECT_EQ(readFlowConfig(old).toJson(), flow->getConfig().toJson());
}

TEST(FlowFiles, ReadFlowConfigReadsOnlyTheHeader) {
    AugmentedCouplingFlow flow = tinyFlow(5);
    const std::string bytes = saveFlow(flow);
    EXPECT_EQ(readFlowConfig(bytes).toJson(), flow->getConfig().toJson());
    EXPECT_EQ(readFlowConfig(bytes).numParticles, 5);
    // A version-1 archive that is cut short still has a readable header (the archive is not read).
    const std::string old = asVersion1(bytes);
    EXPECT_EQ(readFlowConfig(old.substr(0, old.size() - 10)).numParticles, 5);
    expectInvalidArgument([&] { readFlowConfig("BGFLOW2\nnonsense\n"); }, "malformed header");
    expectInvalidArgument([&] { readFlowConfig(std::string("\0\1\2\xff", 4)); }, "not a saved AugmentedCouplingFlow");
}

TEST(TrainingState, RoundTripsFlowOptimizerMethodAndGenerator) {
    torch::set_num_threads(1);
    TrainingConfig config;
    config.batchSize = 8;
    config.epochs = 2;
    config.seed = 5;
    torch::Generator g = at::make_generator<at::CPUGeneratorImpl>(7);
    torch::Tensor data = bgtest::dimerData(32, 1.5, 0.15, g);
    AugmentedCouplingFlow flow = tinyFlow(2);
    MaximumLikelihoodMethod method(data, config, 0.0);
    std::unique_ptr<SkipClipAdam> optimizer = createOptimizer(flow, config, method.callsPerEpoch());
    torch::Generator generator = at::make_generator<at::CPUGeneratorImpl>(11);
    method.step(flow, *optimizer, generator);
    torch::serialize::OutputArchive archive;
    saveTrainingState(archive, flow, optimizer.get(), &method, generator);
    std::ostringstream bytes;
    archive.save_to(bytes);

    // Restored into fresh objects, one more step agrees bitwise with the original's.
    AugmentedCouplingFlow copy = tinyFlow(2);
    MaximumLikelihoodMethod copyMethod(data, config, 0.0);
    std::unique_ptr<SkipClipAdam> copyOptimizer = createOptimizer(copy, config, copyMethod.callsPerEpoch());
    torch::Generator copyGenerator = at::make_generator<at::CPUGeneratorImpl>(99);
    std::istringstream in(bytes.str());
    torch::serialize::InputArchive input;
    input.load_from(in);
    TrainingStateContents contents = readTrainingStateContents(input);
    EXPECT_TRUE(contents.hasOptimizer);
    EXPECT_EQ(contents.methodName, "ml");
    EXPECT_EQ(contents.flowConfig, flow->getConfig().toJson());
    loadTrainingState(input, copy, copyOptimizer.get(), &copyMethod, copyGenerator);
    EXPECT_TRUE(sameParameters(flow, copy));
    method.step(flow, *optimizer, generator);
    copyMethod.step(copy, *copyOptimizer, copyGenerator);
    EXPECT_TRUE(sameParameters(flow, copy));
    EXPECT_EQ(optimizer->stepsTaken(), copyOptimizer->stepsTaken());
}

TEST(TrainingState, AbsentPartsAndMismatchesAreRefused) {
    AugmentedCouplingFlow flow = tinyFlow(2);
    torch::Generator generator = at::make_generator<at::CPUGeneratorImpl>(11);
    torch::serialize::OutputArchive archive;
    saveTrainingState(archive, flow, nullptr, nullptr, generator);   // the flow and the generator only
    std::ostringstream bytes;
    archive.save_to(bytes);
    auto input = [&] {
        auto in = std::make_unique<torch::serialize::InputArchive>();
        std::istringstream stream(bytes.str());
        in->load_from(stream);
        return in;
    };
    TrainingStateContents contents = readTrainingStateContents(*input());
    EXPECT_FALSE(contents.hasOptimizer);
    EXPECT_TRUE(contents.methodName.empty());
    TrainingConfig config;
    AugmentedCouplingFlow copy = tinyFlow(2);
    std::unique_ptr<SkipClipAdam> optimizer = createOptimizer(copy, config, 1);
    EXPECT_THROW(loadTrainingState(*input(), copy, optimizer.get(), nullptr, generator), std::runtime_error);
    AugmentedCouplingFlow other = tinyFlow(3);
    try {
        loadTrainingState(*input(), other, nullptr, nullptr, generator);
        FAIL() << "expected std::runtime_error";
    }
    catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("flow configuration differs"), std::string::npos) << e.what();
    }
    loadTrainingState(*input(), copy, nullptr, nullptr, generator);
    EXPECT_TRUE(sameParameters(flow, copy));
}
