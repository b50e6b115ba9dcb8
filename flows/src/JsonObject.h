#ifndef BG_JSONOBJECT_H_
#define BG_JSONOBJECT_H_

// Private helper of the JSON-configurable classes in flows/ (FlowConfig, TrainingConfig, FabSettings).

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

namespace bg {

/**
 * Parse text that must hold one JSON object. Throws std::invalid_argument with a message starting
 * "<owner>: " for malformed JSON or a JSON value that is not an object.
 */
inline nlohmann::json parseJsonObject(const std::string& text, const std::string& owner) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    }
    catch (const nlohmann::json::exception& e) {
        throw std::invalid_argument(owner + ": invalid JSON: " + e.what());
    }
    if (!j.is_object())
        throw std::invalid_argument(owner + ": the JSON text must be an object");
    return j;
}

} // namespace bg

#endif
