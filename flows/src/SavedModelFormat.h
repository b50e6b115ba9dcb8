#ifndef BG_SAVED_MODEL_FORMAT_H_
#define BG_SAVED_MODEL_FORMAT_H_

// Private helper of saveFlow()/loadFlow() and saveCnf()/loadCnf(): the checksummed container both
// use. Layout: <magic> <config length> " " <payload length> " " <CRC-32 of the payload, 8 hex
// digits> "\n" payload, where payload = configuration JSON + torch archive of the module.

#include <c10/util/Exception.h>
#include <torch/serialize/archive.h>

#include <cstddef>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace bg {

/** Where the parts of a verified saved model lie. */
struct SavedModelLayout {
    std::string configJson;    ///< the configuration JSON
    size_t archiveOffset = 0;  ///< offset of the torch archive in the saved bytes
};

/** The saved bytes of a module: magic, header line, configuration JSON, then the archive. */
std::string packSavedModel(const std::string& magic, const std::string& configJson, torch::serialize::OutputArchive& archive);

/** packSavedModel() of a module: its getConfig().toJson() and the archive of module->save(). */
template <class ModuleHolder>
std::string packSavedModule(const std::string& magic, ModuleHolder& module) {
    torch::serialize::OutputArchive archive;
    module->save(archive);
    return packSavedModel(magic, module->getConfig().toJson(), archive);
}

/**
 * Parse a saved model's header line (the text between the magic and the newline at index lineEnd
 * of bytes) and verify the payload after it. Throws std::invalid_argument starting "<owner>: " with
 * "malformed header", "truncated data (k of n bytes): the data is corrupted" or "checksum
 * mismatch: the data is corrupted".
 */
SavedModelLayout unpackSavedModel(const std::string& bytes, const std::string& header, size_t lineEnd, const std::string& owner);

/**
 * Load a module's weights (module->load(archive)) from the torch archive of verified saved bytes.
 * Throws std::invalid_argument("<owner>: cannot read the weights: ...") if the archive or the
 * weights do not fit the module.
 */
template <class ModuleHolder>
void loadSavedWeights(ModuleHolder& module, const std::string& bytes, const SavedModelLayout& layout, const std::string& owner) {
    std::istringstream weights(bytes.substr(layout.archiveOffset));
    torch::serialize::InputArchive archive;
    try {
        archive.load_from(weights);
        module->load(archive);
    }
    catch (const c10::Error& e) {
        throw std::invalid_argument(owner + ": cannot read the weights: " + e.what_without_backtrace());
    }
}

/**
 * The module of verified saved bytes: built from its configuration JSON (Config::fromJson() of the
 * module's configuration type, which throws std::invalid_argument for an invalid configuration),
 * then its weights loaded (loadSavedWeights()).
 */
template <class ModuleHolder>
ModuleHolder loadSavedModule(const std::string& bytes, const SavedModelLayout& layout, const std::string& owner) {
    using Config = std::decay_t<decltype(std::declval<ModuleHolder&>()->getConfig())>;
    ModuleHolder module(Config::fromJson(layout.configJson));
    loadSavedWeights(module, bytes, layout, owner);
    return module;
}

/** A header's decimal length (1 to 18 digits); throws std::invalid_argument("<owner>: malformed header"). */
size_t parseHeaderLength(const std::string& text, const std::string& owner);

} // namespace bg

#endif
