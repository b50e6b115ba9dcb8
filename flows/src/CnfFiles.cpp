#include "bg/CnfFiles.h"

#include "bg/Checksum.h"

#include <torch/torch.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace bg {

namespace {

const std::string magic = "BGCNF1\n";

[[noreturn]] void fail(const std::string& message) {
    throw std::invalid_argument("loadCnf: " + message);
}

size_t parseLength(const std::string& text) {
    if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos || text.size() > 18)
        fail("malformed header");
    return std::stoull(text);
}

/** Verify the header and checksum; return (configuration JSON, offset of the torch archive). */
std::pair<std::string, size_t> parseSaved(const std::string& bytes) {
    if (bytes.compare(0, magic.size(), magic) != 0)
        fail("the data is not a saved EquivariantCnf");
    const size_t lineEnd = bytes.find('\n', magic.size());
    if (lineEnd == std::string::npos)
        fail("truncated header");
    std::istringstream fields(bytes.substr(magic.size(), lineEnd - magic.size()));
    std::string configText, payloadText, checksumText, extra;
    if (!(fields >> configText >> payloadText >> checksumText) || (fields >> extra))
        fail("malformed header");
    const size_t configLength = parseLength(configText), payloadLength = parseLength(payloadText);
    uint32_t expected = 0;
    try {
        expected = checksumFromHex(checksumText);
    }
    catch (const std::invalid_argument&) {
        fail("malformed header");
    }
    const size_t available = bytes.size() - (lineEnd + 1);
    if (available < payloadLength)
        fail("truncated data (" + std::to_string(available) + " of " + std::to_string(payloadLength) + " bytes): the data is corrupted");
    if (available > payloadLength || configLength > payloadLength || checksum(bytes.data() + lineEnd + 1, payloadLength) != expected)
        fail("checksum mismatch: the data is corrupted");
    return {bytes.substr(lineEnd + 1, configLength), lineEnd + 1 + configLength};
}

} // namespace

std::string saveCnf(EquivariantCnf& cnf) {
    const std::string json = cnf->getConfig().toJson();
    torch::serialize::OutputArchive archive;
    cnf->save(archive);
    std::ostringstream weights;
    archive.save_to(weights);
    const std::string payload = json + weights.str();
    return magic + std::to_string(json.size()) + " " + std::to_string(payload.size()) + " " + checksumToHex(checksum(payload)) + "\n" +
           payload;
}

CnfConfig readCnfConfig(const std::string& bytes) {
    return CnfConfig::fromJson(parseSaved(bytes).first);
}

EquivariantCnf loadCnf(const std::string& bytes) {
    auto [json, offset] = parseSaved(bytes);
    EquivariantCnf cnf(CnfConfig::fromJson(json));
    std::istringstream weights(bytes.substr(offset));
    torch::serialize::InputArchive archive;
    try {
        archive.load_from(weights);
        cnf->load(archive);
    }
    catch (const c10::Error& e) {
        fail(std::string("cannot read the weights: ") + e.what_without_backtrace());
    }
    return cnf;
}

void saveCnfToFile(EquivariantCnf& cnf, const std::string& path) {
    std::ofstream out(path, std::ios::binary);
    const std::string bytes = saveCnf(cnf);
    if (!out || !out.write(bytes.data(), bytes.size()))
        throw std::invalid_argument("saveCnfToFile: cannot write " + path);
}

EquivariantCnf loadCnfFromFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw std::invalid_argument("loadCnfFromFile: cannot open " + path);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return loadCnf(buffer.str());
}

std::string savedModelKind(const std::string& bytes) {
    if (bytes.compare(0, magic.size(), magic) == 0)
        return "ecnf";
    if (bytes.compare(0, 6, "BGFLOW") == 0)
        return "eacf";
    return "";
}

} // namespace bg
