#ifndef BG_JSONOBJECT_H_
#define BG_JSONOBJECT_H_

// Private helpers of the JSON-configurable classes in flows/ (FlowConfig, CnfConfig, TrainingConfig,
// FabSettings, FlowMatchingSettings).

#include "EnumNames.h"

#include <nlohmann/json.hpp>

#include <cstddef>
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
 * Set an enum field from the name j[key] if the object j has that key: nlohmann::json::exception if
 * it is not a string, std::invalid_argument (EnumNames::value()) for an unknown name.
 */
template <class Enum, std::size_t N>
void readOptional(const nlohmann::json& j, const char* key, Enum& field, const EnumNames<Enum, N>& names) {
    if (j.contains(key))
        field = names.value(j.at(key).get<std::string>());
}

/** The JSON value of a field: the member itself, or for an enum with its name table, the name. */
template <class T>
nlohmann::json fieldJson(const T& field) {
    return field;
}

template <class Enum, std::size_t N>
nlohmann::json fieldJson(Enum field, const EnumNames<Enum, N>& names) {
    return names.name(field);
}

// A field list of a configuration type is a callable fields(config, visit) that calls
// visit(key, member) for each of its JSON fields, visit(key, member, names) for an enum member with
// its name table (config const or not). The functions below read and write those fields, so that
// each key is named once.

/** The JSON object of the fields of config: each member under its key. */
template <class Config, class Fields>
nlohmann::json fieldsToJson(const Config& config, Fields fields) {
    nlohmann::json j = nlohmann::json::object();
    fields(config, [&](const char* key, const auto& field, const auto&... names) { j[key] = fieldJson(field, names...); });
    return j;
}

/** The keys of a field list (for rejectUnknownKeys()). */
template <class Config, class Fields>
std::set<std::string> fieldKeys(const Config& config, Fields fields) {
    std::set<std::string> keys;
    fields(config, [&](const char* key, const auto&...) { keys.insert(key); });
    return keys;
}

/**
 * Read each field of the list that the object j has (readOptional()), in the order of the list:
 * nlohmann::json::exception for a value of the wrong type (see readJsonValues()), std::invalid_argument
 * for an unknown enum name.
 */
template <class Config, class Fields>
void readFields(const nlohmann::json& j, Config& config, Fields fields) {
    fields(config, [&](const char* key, auto& field, const auto&... names) { readOptional(j, key, field, names...); });
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

/**
 * A configuration from JSON text: parseJsonObject(); rejectUnknownKeys() with the keys of the field
 * list and extraKeys; then, under readJsonValues(), readExtra(j) (for the extra keys) and
 * readFields(); then config.validate(). Throws std::invalid_argument("<owner>: ...") as those do.
 */
template <class Config, class Fields, class ReadExtra>
Config configFromJson(const std::string& text, const std::string& owner, Fields fields, const std::set<std::string>& extraKeys,
                      ReadExtra readExtra) {
    nlohmann::json j = parseJsonObject(text, owner);
    Config config;
    std::set<std::string> keys = fieldKeys(config, fields);
    keys.insert(extraKeys.begin(), extraKeys.end());
    rejectUnknownKeys(j, keys, owner);
    readJsonValues(owner, [&] {
        readExtra(j);
        readFields(j, config, fields);
    });
    config.validate();
    return config;
}

/** configFromJson() of a configuration whose keys are all in its field list. */
template <class Config, class Fields>
Config configFromJson(const std::string& text, const std::string& owner, Fields fields) {
    return configFromJson<Config>(text, owner, fields, {}, [](const nlohmann::json&) {});
}

} // namespace bg

#endif
