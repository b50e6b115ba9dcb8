#include "bg/JsonText.h"

#include "JsonObject.h"

namespace bg {

void checkJsonObjectText(const std::string& text, const std::string& owner) {
    parseJsonObject(text, owner);
}

} // namespace bg
