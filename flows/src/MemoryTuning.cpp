#include "bg/MemoryTuning.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace bg {

bool limitHeapFragmentation(std::size_t mmapThresholdBytes, std::size_t trimThresholdBytes) {
#if defined(__GLIBC__)
    const bool mmapSet = mallopt(M_MMAP_THRESHOLD, static_cast<int>(mmapThresholdBytes)) == 1;
    const bool trimSet = mallopt(M_TRIM_THRESHOLD, static_cast<int>(trimThresholdBytes)) == 1;
    return mmapSet && trimSet;
#else
    (void) mmapThresholdBytes;
    (void) trimThresholdBytes;
    return false;
#endif
}

} // namespace bg
