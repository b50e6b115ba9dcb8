// XML serialization of BoltzmannGeneratorForce (with embedded flow bytes) and the base64 codec.

#include "Base64.h"
#include "BoltzmannGeneratorForce.h"
#include "bg/AugmentedCouplingFlow.h"
#include "openmm/OpenMMException.h"
#include "openmm/System.h"
#include "openmm/serialization/XmlSerializer.h"

#include <gtest/gtest.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

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

// A small flow configuration (4 particles in 3-D); the JSON ends with a number.
const string smallFlowConfig = "{\"numParticles\": 4, \"dimension\": 3, \"numBlocks\": 1, \"egnnLayers\": 1, \"egnnWidth\": 8, "
                               "\"invariantFeatures\": 8, \"headWidths\": [8], \"splineBins\": 4}";

// saveFlow() bytes of a fresh flow with the given configuration (the weights setFlow() accepts).
string savedFlow(const string& config) {
    bg::AugmentedCouplingFlow flow(bg::FlowConfig::fromJson(config));
    return bg::saveFlow(flow);
}

unique_ptr<System> roundTripSystem(const System& system) {
    stringstream buffer;
    XmlSerializer::serialize<System>(&system, "System", buffer);
    return unique_ptr<System>(XmlSerializer::deserialize<System>(buffer));
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
    string weights = savedFlow(smallFlowConfig);
    force.setFlow(smallFlowConfig, weights);
    force.setPlanar(true);
    force.setRandomNumberSeed(-17);
    force.setTrainingSettings("{\"batchSize\": 64, \"fab\": {\"updatesPerIteration\": 3}}");
    force.setDistributedTraining(true);
    force.setDistributedTimeout(45.5);
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
    EXPECT_TRUE(copy->getDistributedTraining());
    EXPECT_EQ(copy->getDistributedTimeout(), 45.5);
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
    for (int i = 0; i < 4; i++)
        system.addParticle(1.0);
    BoltzmannGeneratorForce* force = new BoltzmannGeneratorForce({0, 2, 1, 3}, 450.0);
    const string weights = savedFlow(smallFlowConfig);
    force->setFlow(smallFlowConfig, weights);
    system.addForce(force);
    stringstream buffer;
    XmlSerializer::serialize<System>(&system, "System", buffer);
    unique_ptr<System> copy(XmlSerializer::deserialize<System>(buffer));
    ASSERT_EQ(copy->getNumForces(), 1);
    BoltzmannGeneratorForce* restored = dynamic_cast<BoltzmannGeneratorForce*>(&copy->getForce(0));
    ASSERT_NE(restored, nullptr);
    EXPECT_EQ(restored->getFlowWeights(), weights);
    EXPECT_EQ(restored->getTemperature(), 450.0);
}

TEST(SerializeBoltzmannGeneratorForce, RejectsAnUnknownVersion) {
    BoltzmannGeneratorForce force({0, 1}, 300.0);
    string xml = serialize(force);
    size_t at = xml.find("version=\"3\"");
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

TEST(SerializeBoltzmannGeneratorForce, RoundTripsHostileContentInsideASystem) {
    System system;
    for (int i = 0; i < 4; i++)
        system.addParticle(1.0);
    BoltzmannGeneratorForce* force = new BoltzmannGeneratorForce({3, 0, 1, 2}, 300.0);
    const string name = "a \"quoted\" <name> & 'more' &amp; &quot;\n\ttab, non-ASCII: \xc3\xbc \xe2\x82\xac \xe6\x97\xa5&";
    force->setName(name);
    // A valid flow configuration with newlines, JSON escapes and a string value last (so its XML
    // attribute would end in "&quot;}").
    const string config = "{\n  \"numParticles\": 4,\r\n  \"dimension\": 3, \"numBlocks\": 1, \"egnnLayers\": 1, \"egnnWidth\": 8,\n"
                          "\t\"invariantFeatures\": 8, \"headWidths\": [8], \"splineBins\": 4, \"projection\": \"spherical\",\n"
                          "  \"d\\u0074ype\": \"float\\u00364\"}";
    const string weights = savedFlow(config);
    force->setFlow(config, weights);
    ASSERT_EQ(bg::FlowConfig::fromJson(force->getFlowConfig()).dtype, "float64");
    // Training settings (every key is checked, so the hostile text is in the name above) with
    // string values, quotes and nested objects.
    force->setTrainingSettings("{\"batchSize\": 16, \"device\": \"cpu\", \"fab\": {\"ais\": {\"hmcSteps\": 2}}}");
    ASSERT_NE(force->getTrainingSettings().find("\"cpu\""), string::npos) << force->getTrainingSettings();
    system.addForce(force);
    unique_ptr<System> copy = roundTripSystem(system);
    ASSERT_EQ(copy->getNumForces(), 1);
    BoltzmannGeneratorForce* restored = dynamic_cast<BoltzmannGeneratorForce*>(&copy->getForce(0));
    ASSERT_NE(restored, nullptr);
    EXPECT_EQ(restored->getName(), name);
    EXPECT_EQ(restored->getFlowConfig(), force->getFlowConfig());
    EXPECT_EQ(restored->getFlowWeights(), weights);
    EXPECT_EQ(restored->getTrainingSettings(), force->getTrainingSettings());
    EXPECT_EQ(restored->getParticles(), force->getParticles());
    // And again: the restored force writes the same XML.
    unique_ptr<System> again = roundTripSystem(*copy);
    EXPECT_EQ(dynamic_cast<BoltzmannGeneratorForce&>(again->getForce(0)).getTrainingSettings(), force->getTrainingSettings());
}

TEST(SerializeBoltzmannGeneratorForce, ReadsVersion2) {
    // A version-2 document as written before the base64 attributes (plain-text name, settings
    // and flow configuration), with weights in the older "BGFLOW1" format (no checksum).
    const string current = savedFlow(smallFlowConfig);
    const size_t lineEnd = current.find('\n', 8);
    istringstream header(current.substr(8, lineEnd - 8));
    size_t configLength = 0;
    header >> configLength;
    const string version1Weights = "BGFLOW1\n" + to_string(configLength) + "\n" + current.substr(lineEnd + 1);
    auto escape = [](const string& text) {
        string out;
        for (char c : text) {
            if (c == '"') out += "&quot;";
            else if (c == '&') out += "&amp;";
            else if (c == '<') out += "&lt;";
            else if (c == '>') out += "&gt;";
            else out += c;
        }
        return out;
    };
    const string settings = "{\"batchSize\": 32, \"epochs\": 7}";
    const string xml = "<?xml version=\"1.0\" ?>\n"
                       "<Force forceGroup=\"2\" name=\"old force\" planar=\"0\" randomSeed=\"11\" temperature=\"310.5\" "
                       "trainingSettings=\"" + escape(settings) + "\" type=\"BoltzmannGeneratorForce\" version=\"2\">\n"
                       "\t<Particles>\n\t\t<Particle index=\"1\"/>\n\t\t<Particle index=\"0\"/>\n"
                       "\t\t<Particle index=\"2\"/>\n\t\t<Particle index=\"3\"/>\n\t</Particles>\n"
                       "\t<Flow config=\"" + escape(smallFlowConfig) + "\" weights=\"" + encodeBase64(version1Weights) + "\"/>\n"
                       "</Force>\n";
    unique_ptr<BoltzmannGeneratorForce> force = deserialize(xml);
    ASSERT_NE(force, nullptr);
    EXPECT_EQ(force->getName(), "old force");
    EXPECT_EQ(force->getForceGroup(), 2);
    EXPECT_EQ(force->getTemperature(), 310.5);
    EXPECT_EQ(force->getRandomNumberSeed(), 11);
    EXPECT_EQ(force->getParticles(), (vector<int>{1, 0, 2, 3}));
    EXPECT_EQ(force->getFlowConfig(), smallFlowConfig);
    EXPECT_EQ(force->getFlowWeights(), version1Weights);
    EXPECT_NE(force->getTrainingSettings().find("\"epochs\": 7"), string::npos) << force->getTrainingSettings();
    EXPECT_FALSE(force->getDistributedTraining());   // the setting came later: off, default timeout
    EXPECT_EQ(force->getDistributedTimeout(), 300.0);
    // It is written back as version 3.
    EXPECT_NE(serialize(*force).find("version=\"3\""), string::npos);
}
