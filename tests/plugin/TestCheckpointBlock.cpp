// The length-prefixed, checksummed blocks of the integrator's checkpoints (internal/CheckpointBlock.h):
// a block round-trips, and a flipped byte or a truncated stream is refused with a clear error.

#include "internal/CheckpointBlock.h"
#include "openmm/OpenMMException.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

namespace {

// Two blocks as the integrator writes them (its own state, then the flow's).
string twoBlocks(const string& first, const string& second) {
    ostringstream stream;
    writeCheckpointBlock(stream, first);
    writeCheckpointBlock(stream, second);
    return stream.str();
}

// Read both blocks of a stream; expect an OpenMMException containing fragment from one of them.
void expectRefused(const string& bytes, const string& fragment) {
    istringstream stream(bytes);
    try {
        readCheckpointBlock(stream, "integrator state");
        readCheckpointBlock(stream, "flow state");
        FAIL() << "expected an OpenMMException containing '" << fragment << "'";
    }
    catch (const OpenMMException& e) {
        EXPECT_NE(string(e.what()).find(fragment), string::npos) << e.what();
    }
}

string payload(size_t size) {
    string bytes;
    for (size_t i = 0; i < size; i++)
        bytes += (char) ((i * 37 + 11) % 256);
    return bytes;
}

} // namespace

TEST(CheckpointBlock, RoundTrips) {
    const string first = payload(1000), second = string("\0flow\0", 6), empty;
    ostringstream out;
    writeCheckpointBlock(out, first);
    writeCheckpointBlock(out, second);
    writeCheckpointBlock(out, empty);
    istringstream in(out.str());
    EXPECT_EQ(readCheckpointBlock(in, "a"), first);
    EXPECT_EQ(readCheckpointBlock(in, "b"), second);
    EXPECT_EQ(readCheckpointBlock(in, "c"), empty);
}

TEST(CheckpointBlock, RefusesAFlippedByte) {
    const string bytes = twoBlocks(payload(1000), payload(500));
    // In the middle of the first block's data, and in the second block's data.
    for (size_t at : {size_t(500), bytes.size() - 100}) {
        string corrupted = bytes;
        corrupted[at] ^= 0x01;
        expectRefused(corrupted, "BoltzmannGeneratorIntegrator: the checkpoint is corrupted (");
    }
    string first = bytes;
    first[500] ^= 0x01;
    expectRefused(first, "the checkpoint is corrupted (integrator state)");
    string second = bytes;
    second[bytes.size() - 100] ^= 0x01;
    expectRefused(second, "the checkpoint is corrupted (flow state)");
    // A flipped checksum byte (just after the 8-byte length).
    string checksumByte = bytes;
    checksumByte[9] ^= 0x01;
    expectRefused(checksumByte, "the checkpoint is corrupted (integrator state)");
}

TEST(CheckpointBlock, RefusesTruncatedStreams) {
    const string bytes = twoBlocks(payload(1000), payload(500));
    expectRefused(bytes.substr(0, bytes.size() - 1), "the checkpoint is truncated (flow state)");
    expectRefused(bytes.substr(0, 600), "the checkpoint is truncated (integrator state)");
    expectRefused(bytes.substr(0, 10), "truncated or malformed (integrator state)");
    // A length made huge by corruption fails at the end of the stream, without allocating it.
    string hugeLength = bytes;
    hugeLength[4] = (char) 0x01;   // 2^32 + 1000 bytes
    expectRefused(hugeLength, "the checkpoint is truncated (integrator state)");
}
