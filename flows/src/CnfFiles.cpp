#include "bg/CnfFiles.h"

#include "FileBytes.h"
#include "SavedModelFormat.h"

#include <torch/torch.h>

#include <stdexcept>

namespace bg {

namespace {

const std::string magic = "BGCNF1\n";

[[noreturn]] void fail(const std::string& message) {
    throw std::invalid_argument("loadCnf: " + message);
}

/** Verify the header and checksum; return the configuration JSON and the archive's offset. */
SavedModelLayout parseSaved(const std::string& bytes) {
    if (bytes.compare(0, magic.size(), magic) != 0)
        fail("the data is not a saved EquivariantCnf");
    const size_t lineEnd = bytes.find('\n', magic.size());
    if (lineEnd == std::string::npos)
        fail("truncated header");
    return unpackSavedModel(bytes, bytes.substr(magic.size(), lineEnd - magic.size()), lineEnd, "loadCnf");
}

} // namespace

std::string saveCnf(EquivariantCnf& cnf) {
    return packSavedModule(magic, cnf);
}

EquivariantCnf loadCnf(const std::string& bytes) {
    return loadSavedModule<EquivariantCnf>(bytes, parseSaved(bytes), "loadCnf");
}

CnfConfig readCnfConfig(const std::string& bytes) {
    return CnfConfig::fromJson(parseSaved(bytes).configJson);
}

void saveCnfToFile(EquivariantCnf& cnf, const std::string& path) {
    writeFileBytes(path, saveCnf(cnf), "saveCnfToFile");
}

EquivariantCnf loadCnfFromFile(const std::string& path) {
    return loadCnf(readFileBytes(path, "loadCnfFromFile"));
}

std::string savedModelKind(const std::string& bytes) {
    if (bytes.compare(0, magic.size(), magic) == 0)
        return "ecnf";
    if (bytes.compare(0, 6, "BGFLOW") == 0)
        return "eacf";
    return "";
}

} // namespace bg
