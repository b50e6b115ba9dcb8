#ifndef BG_JSONOBJECT_H_
#define BG_JSONOBJECT_H_

// Private helpers of the JSON-configurable classes in flows/ (FlowConfig, CnfConfig, TrainingConfig,
// FabSettings, FlowMatchingSettings).

#include <nlohmann/json.hpp>

#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace bg {

/**
 * Parse text that must hold one JSON object. Throws std::invalid_argument with a message starting
 * "<owner>: " for malformed JSON, a JSON value that is not an object, or a key that appears twice
 * in the same object at any nesting level ("<owner>: duplicate key 'x' in the JSON text"; the
 * parser alone would keep the last value silently).
 */
inline nlohmann::json parseJsonObject(const std::string& text, const std::string& owner) {
    // One set of keys per object being parsed, innermost last.
    std::vector<std::set<std::string>> openObjects;
    auto checkKeys = [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        switch (event) {
        case nlohmann::json::parse_event_t::object_start:
            openObjects.emplace_back();
            break;
        case nlohmann::json::parse_event_t::object_end:
            if (!openObjects.empty())
                openObjects.pop_back();
            break;
        case nlohmann::json::parse_event_t::key:
            if (!openObjects.empty() && !openObjects.back().insert(parsed.get<std::string>()).second)
                throw std::invalid_argument(owner + ": duplicate key '" + parsed.get<std::string>() + "' in the JSON text");
            break;
        default:
            break;
        }
        return true;
    };
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text, checkKeys);
    }
    catch (const nlohmann::json::exception& e) {
        throw std::invalid_argument(owner + ": invalid JSON: " + e.what());
    }
    if (!j.is_object())
        throw std::invalid_argument(owner + ": the JSON text must be an object");
    return j;
}

/**
 * Throw std::invalid_argument("<owner>: unknown key '<prefix><key>'") for the first key of the
 * object j that is not in known.
 */
inline void rejectUnknownKeys(const nlohmann::json& j, const std::set<std::string>& known, const std::string& owner,
                              const std::string& prefix = "") {
    for (auto it = j.begin(); it != j.end(); ++it)
        if (known.count(it.key()) == 0)
            throw std::invalid_argument(owner + ": unknown key '" + prefix + it.key() + "'");
}

/** Set field from j[key] if the object j has that key (nlohmann::json::exception for a wrong type). */
template <class T>
void readOptional(const nlohmann::json& j, const char* key, T& field) {
    if (j.contains(key))
        j.at(key).get_to(field);
}

/**
 * Run read(), which reads values out of a parsed JSON object; a value of the wrong type
 * (nlohmann::json::exception) becomes std::invalid_argument("<owner>: wrong value type: ...").
 * Other exceptions pass through.
 */
template <class Read>
void readJsonValues(const std::string& owner, Read read) {
    try {
        read();
    }
    catch (const nlohmann::json::exception& e) {
        throw std::invalid_argument(owner + ": wrong value type: " + e.what());
    }
}

} // namespace bg

#endif
