// .npy reading and writing: round trips in float32 and float64 of several ranks, and clear errors.

#include "TrainingTestUtilities.h"
#include "bg/NpyIO.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

using namespace bg;

TEST(NpyIO, RoundTripFloat64Rank3) {
    std::string dir = bgtest::freshDirectory("npy64");
    torch::Tensor x = torch::randn({5, 4, 2}, torch::kFloat64);
    writeNpy(dir + "/x.npy", x);
    torch::Tensor y = readNpy(dir + "/x.npy");
    EXPECT_EQ(y.scalar_type(), torch::kFloat64);
    EXPECT_EQ(y.sizes(), x.sizes());
    EXPECT_TRUE(torch::equal(x, y));
}

TEST(NpyIO, RoundTripFloat32KeepsValuesAndConverts) {
    std::string dir = bgtest::freshDirectory("npy32");
    torch::Tensor x = torch::randn({7}, torch::kFloat32);
    writeNpy(dir + "/x.npy", x);
    torch::Tensor asStored = readNpy(dir + "/x.npy", torch::kFloat32);
    EXPECT_EQ(asStored.scalar_type(), torch::kFloat32);
    EXPECT_TRUE(torch::equal(x, asStored));
    torch::Tensor asDouble = readNpy(dir + "/x.npy");   // float64 by default
    EXPECT_EQ(asDouble.scalar_type(), torch::kFloat64);
    EXPECT_TRUE(torch::equal(x.to(torch::kFloat64), asDouble));
}

TEST(NpyIO, ScalarAndEmptyAndNonContiguous) {
    std::string dir = bgtest::freshDirectory("npyshape");
    torch::Tensor s = torch::tensor(3.5, torch::kFloat64);
    writeNpy(dir + "/s.npy", s);
    EXPECT_EQ(readNpy(dir + "/s.npy").dim(), 0);
    EXPECT_EQ(readNpy(dir + "/s.npy").item<double>(), 3.5);
    torch::Tensor e = torch::zeros({0, 3}, torch::kFloat64);
    writeNpy(dir + "/e.npy", e);
    EXPECT_EQ(readNpy(dir + "/e.npy").sizes(), e.sizes());
    torch::Tensor t = torch::randn({3, 4}, torch::kFloat64).t();   // not contiguous
    writeNpy(dir + "/t.npy", t);
    EXPECT_TRUE(torch::equal(readNpy(dir + "/t.npy"), t));
}

TEST(NpyIO, HeaderIsAlignedTo64Bytes) {
    std::string dir = bgtest::freshDirectory("npyheader");
    writeNpy(dir + "/x.npy", torch::ones({2, 3}, torch::kFloat64));
    std::ifstream in(dir + "/x.npy", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_GE(bytes.size(), 10u);
    size_t headerLength = (unsigned char) bytes[8] | ((unsigned char) bytes[9] << 8);
    EXPECT_EQ((10 + headerLength) % 64, 0u);
    EXPECT_EQ(bytes.size(), 10 + headerLength + 6 * 8);
    EXPECT_NE(bytes.find("'descr': '<f8'"), std::string::npos);
}

static void expectReadError(const std::string& path, const std::string& fragment) {
    try {
        readNpy(path);
        ADD_FAILURE() << "expected an error for " << path;
    }
    catch (const std::runtime_error& e) {
        std::string message = e.what();
        EXPECT_NE(message.find(path), std::string::npos) << message;
        EXPECT_NE(message.find(fragment), std::string::npos) << message;
    }
}

TEST(NpyIO, BadFilesGiveClearErrors) {
    std::string dir = bgtest::freshDirectory("npybad");
    expectReadError(dir + "/missing.npy", "cannot open");
    {
        std::ofstream out(dir + "/text.npy");
        out << "this is not numpy";
    }
    expectReadError(dir + "/text.npy", "not a .npy file");
    // A valid file cut short.
    writeNpy(dir + "/full.npy", torch::ones({100}, torch::kFloat64));
    {
        std::ifstream in(dir + "/full.npy", std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        std::ofstream out(dir + "/short.npy", std::ios::binary);
        out.write(bytes.data(), bytes.size() - 100);
    }
    expectReadError(dir + "/short.npy", "truncated");
    // An integer array.
    {
        std::string header = "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }";
        header += std::string((64 - (10 + header.size() + 1) % 64) % 64, ' ') + "\n";
        std::ofstream out(dir + "/int.npy", std::ios::binary);
        out.write("\x93NUMPY\x01\x00", 8);
        char len[2] = {char(header.size() & 0xff), char(header.size() >> 8)};
        out.write(len, 2);
        out << header;
        out.write(std::string(16, '\0').data(), 16);
    }
    expectReadError(dir + "/int.npy", "unsupported element type");
    EXPECT_THROW(writeNpy(dir + "/i.npy", torch::ones({2}, torch::kInt64)), std::runtime_error);
}
