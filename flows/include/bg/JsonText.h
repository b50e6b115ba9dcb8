#ifndef BG_JSON_TEXT_H_
#define BG_JSON_TEXT_H_

#include <string>

namespace bg {

/**
 * Check JSON text the way FlowConfig::fromJson, TrainingConfig::fromJson and FabSettings::fromJson
 * do before reading their keys, for callers that parse configuration text themselves (e.g. files
 * merged by the command line). Throws std::invalid_argument with a message starting "<owner>: " for
 * malformed JSON, a value that is not an object, or a key that appears twice in one object at any
 * nesting level ("<owner>: duplicate key 'x' in the JSON text").
 */
void checkJsonObjectText(const std::string& text, const std::string& owner);

} // namespace bg

#endif
