#ifndef OPENMM_BG_CLI_CONFIG_OVERRIDES_H_
#define OPENMM_BG_CLI_CONFIG_OVERRIDES_H_

// How `openmm-bg train` layers settings over a preset: JSON configuration files and --set key=value.

#include <nlohmann/json.hpp>

#include <string>

namespace BoltzmannPlugin {
namespace cli {

/**
 * Read a JSON object from a file.
 *
 * @throws UsageError if the file cannot be read, is not a JSON object, or repeats a key (which
 *         nlohmann::json::parse would accept silently)
 */
nlohmann::json readJsonFile(const std::string& path);

/**
 * Apply one --set assignment "key=value" to the training or flow settings: keys starting with
 * "flow." go to `flow`, keys starting with "training." or without prefix to `training`; dotted keys
 * ("schedule.peakLr") reach into groups. The value is parsed as JSON, else taken as a string
 * (so `dtype=float64` works).
 *
 * @throws UsageError for a malformed assignment or a key that does not name a setting
 */
void applySet(nlohmann::json& training, nlohmann::json& flow, const std::string& assignment);

} // namespace cli
} // namespace BoltzmannPlugin

#endif
