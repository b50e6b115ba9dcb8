// XML serialization of BoltzmannGeneratorForce (with embedded flow bytes) and the base64 codec.

#include "Base64.h"
#include "BoltzmannGeneratorForce.h"
#include "openmm/OpenMMException.h"
#include "openmm/System.h"
#include "openmm/serialization/XmlSerializer.h"

#include <gtest/gtest.h>

#include <memory>
#include <sstream>
#include <string>

using namespace BoltzmannPlugin;
using namespace OpenMM;
using namespace std;

namespace {

string allByteValues() {
    string bytes;
    for (int repeat = 0; repeat < 3; repeat++)
        for (int b = 0; b < 256; b++)
            bytes += (char) b;
    return bytes + "x";   // a length that is not a multiple of 3
}

string serialize(const Force& force) {
    stringstream buffer;
    XmlSerializer::serialize<Force>(&force, "Force", buffer);
    return buffer.str();
}

unique_ptr<BoltzmannGeneratorForce> deserialize(const string& xml) {
    stringstream buffer(xml);
    unique_ptr<Force> force(XmlSerializer::deserialize<Force>(buffer));
    BoltzmannGeneratorForce* cast = dynamic_cast<BoltzmannGeneratorForce*>(force.get());
    if (cast == nullptr)
        return nullptr;
    force.release();
    return unique_ptr<BoltzmannGeneratorForce>(cast);
}

} // namespace

TEST(Base64, MatchesTheStandardTestVectors) {
    // RFC 4648, section 10.
    const char* plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char* encoded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        EXPECT_EQ(encodeBase64(plain[i]), encoded[i]);
        EXPECT_EQ(decodeBase64(encoded[i]), plain[i]);
    }
}

TEST(Base64, RoundTripsEveryByteValue) {
    string bytes = allByteValues();
    EXPECT_EQ(decodeBase64(encodeBase64(bytes)), bytes);
}

TEST(Base64, RejectsMalformedText) {
    EXPECT_THROW(decodeBase64("Zm9"), OpenMMException);
    EXPECT_THROW(decodeBase64("Zm9*"), OpenMMException);
    EXPECT_THROW(decodeBase64("Z=9v"), OpenMMException);
}

TEST(SerializeBoltzmannGeneratorForce, RoundTripsEveryField) {
    BoltzmannGeneratorForce force({5, 2, 7, 0}, 812.5);
    force.setForceGroup(3);
    force.setName("flow over the solute");
    string weights = allByteValues();
    force.setFlow("{\"numParticles\": 4, \"dimension\": 3}", weights);
    force.setPlanar(true);
    force.setRandomNumberSeed(-17);
    force.setTrainingSettings("{\"batchSize\": 64, \"fab\": {\"updatesPerIteration\": 3}}");
    string xml = serialize(force);
    EXPECT_NE(xml.find("BoltzmannGeneratorForce"), string::npos);
    unique_ptr<BoltzmannGeneratorForce> copy = deserialize(xml);
    ASSERT_NE(copy, nullptr);
    EXPECT_EQ(copy->getParticles(), force.getParticles());
    EXPECT_EQ(copy->getTemperature(), force.getTemperature());
    EXPECT_EQ(copy->getForceGroup(), 3);
    EXPECT_EQ(copy->getName(), "flow over the solute");
    EXPECT_TRUE(copy->hasFlow());
    EXPECT_EQ(copy->getFlowConfig(), force.getFlowConfig());
    EXPECT_EQ(copy->getFlowWeights(), weights);
    EXPECT_TRUE(copy->isPlanar());
    EXPECT_EQ(copy->getRandomNumberSeed(), -17);
    EXPECT_EQ(copy->getTrainingSettings(), force.getTrainingSettings());
    EXPECT_NE(copy->getTrainingSettings().find("\"updatesPerIteration\": 3"), string::npos) << copy->getTrainingSettings();
    EXPECT_EQ(serialize(*copy), xml);
}

TEST(SerializeBoltzmannGeneratorForce, RoundTripsWithoutAFlow) {
    BoltzmannGeneratorForce force({0, 1}, 300.0);
    unique_ptr<BoltzmannGeneratorForce> copy = deserialize(serialize(force));
    ASSERT_NE(copy, nullptr);
    EXPECT_FALSE(copy->hasFlow());
    EXPECT_EQ(copy->getParticles(), force.getParticles());
}

TEST(SerializeBoltzmannGeneratorForce, TravelsInsideASystem) {
    System system;
    for (int i = 0; i < 3; i++)
        system.addParticle(1.0);
    BoltzmannGeneratorForce* force = new BoltzmannGeneratorForce({0, 2}, 450.0);
    force->setFlow("{}", string("\0weights\0", 9));
    system.addForce(force);
    stringstream buffer;
    XmlSerializer::serialize<System>(&system, "System", buffer);
    unique_ptr<System> copy(XmlSerializer::deserialize<System>(buffer));
    ASSERT_EQ(copy->getNumForces(), 1);
    BoltzmannGeneratorForce* restored = dynamic_cast<BoltzmannGeneratorForce*>(&copy->getForce(0));
    ASSERT_NE(restored, nullptr);
    EXPECT_EQ(restored->getFlowWeights(), string("\0weights\0", 9));
    EXPECT_EQ(restored->getTemperature(), 450.0);
}

TEST(SerializeBoltzmannGeneratorForce, RejectsAnUnknownVersion) {
    BoltzmannGeneratorForce force({0, 1}, 300.0);
    string xml = serialize(force);
    size_t at = xml.find("version=\"2\"");
    ASSERT_NE(at, string::npos);
    xml.replace(at, 11, "version=\"99\"");
    try {
        deserialize(xml);
        FAIL() << "expected an OpenMMException";
    }
    catch (const OpenMMException& e) {
        EXPECT_NE(string(e.what()).find("BoltzmannGeneratorForceProxy"), string::npos) << e.what();
    }
}
