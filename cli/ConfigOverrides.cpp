#include "ConfigOverrides.h"

#include "CommandSupport.h"
#include "bg/JsonText.h"

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace BoltzmannPlugin {
namespace cli {

using nlohmann::json;

json readJsonFile(const std::string& path) {
    std::ifstream in(path);
    if (!in)
        throw UsageError("cannot read " + path);
    std::stringstream text;
    text << in.rdbuf();
    try {
        // Malformed JSON, not an object, or duplicate keys (which json::parse would take silently).
        bg::checkJsonObjectText(text.str(), path);
        return json::parse(text.str());
    }
    catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
    }
    catch (const json::exception& e) {
        throw UsageError(path + ": invalid JSON: " + e.what());
    }
}

namespace {

/** Set a dotted key ("schedule.peakLr") inside a JSON object. */
void setDotted(json& j, const std::string& key, const json& value) {
    json* node = &j;
    std::stringstream ss(key);
    std::string part;
    std::vector<std::string> parts;
    while (std::getline(ss, part, '.'))
        parts.push_back(part);
    if (parts.empty() || key.back() == '.')
        throw UsageError("--set: malformed key '" + key + "'");
    for (size_t i = 0; i + 1 < parts.size(); i++) {
        if (!node->is_object())
            throw UsageError("--set: '" + key + "': '" + parts[i] + "' is not a group of settings");
        node = &(*node)[parts[i]];
        if (node->is_null())
            *node = json::object();
    }
    if (!node->is_object())
        throw UsageError("--set: '" + key + "' does not name a setting");
    (*node)[parts.back()] = value;
}

} // namespace

void applySet(json& training, json& flow, const std::string& assignment) {
    const size_t eq = assignment.find('=');
    if (eq == std::string::npos || eq == 0)
        throw UsageError("--set expects key=value, got '" + assignment + "'");
    const std::string key = assignment.substr(0, eq), text = assignment.substr(eq + 1);
    json value;
    try {
        value = json::parse(text);
    }
    catch (const json::exception&) {
        value = text;   // a bare word such as float64
    }
    if (key.rfind("flow.", 0) == 0)
        setDotted(flow, key.substr(5), value);
    else if (key.rfind("training.", 0) == 0)
        setDotted(training, key.substr(9), value);
    else
        setDotted(training, key, value);
}

} // namespace cli
} // namespace BoltzmannPlugin
