#ifndef BG_ENUM_NAMES_H_
#define BG_ENUM_NAMES_H_

// Private helper of the JSON-configurable classes in flows/: the names of an enum's values in one
// table, read in both directions (the name of a value, the value of a name).

#include <cstddef>
#include <stdexcept>
#include <string>

namespace bg {

/**
 * The names of the N values of an enum, and what the error of an unknown name says. A literal
 * type: tables are constant-initialised (usable before dynamic initialisation).
 */
template <class Enum, std::size_t N>
struct EnumNames {
    struct Entry {
        Enum value;
        const char* name;
    };
    const char* owner;   ///< the start of error messages ("FlowConfig")
    const char* what;    ///< what the names name, in error messages ("projection")
    Entry entries[N];    ///< in the order error messages list them

    /** The name of a value; "" for a value the table lacks. */
    const char* name(Enum value) const {
        for (const Entry& entry : entries)
            if (entry.value == value)
                return entry.name;
        return "";
    }

    /**
     * The value of a name. Throws std::invalid_argument("<owner>: unknown <what> '<name>' (<first
     * name> | <second name> | ...)") for a name the table lacks.
     */
    Enum value(const std::string& name) const {
        std::string known;
        for (const Entry& entry : entries) {
            if (name == entry.name)
                return entry.value;
            known += (known.empty() ? "" : " | ") + std::string(entry.name);
        }
        throw std::invalid_argument(std::string(owner) + ": unknown " + what + " '" + name + "' (" + known + ")");
    }
};

} // namespace bg

#endif
