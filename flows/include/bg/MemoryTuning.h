#ifndef BG_MEMORYTUNING_H_
#define BG_MEMORYTUNING_H_

#include <cstddef>

namespace bg {

/**
 * Make the C library return freed tensor memory to the system promptly. Training allocates and
 * frees many tensors of a few hundred kB to tens of MB per step; with glibc's default adaptive
 * thresholds these end up on the heap, which fragments, and the peak resident memory of a run grows
 * to several times what the tensors need (measured: LJ13, batch 128, one forward+backward pass,
 * 6.4 GiB instead of 4.5 GiB; with gradient checkpointing 3.3 GiB instead of 0.43 GiB). Allocations
 * of at least mmapThresholdBytes are then served by mmap and unmapped on free, and the heap is
 * trimmed when more than trimThresholdBytes are free at its top. Equivalent to setting the
 * environment variables MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ before the process starts.
 * Process-wide; a no-op where the C library is not glibc. Trade-off (docs/fab-iteration-profile.md):
 * with the 128 KiB threshold a DW4 FAB iteration costs twice the CPU time (activations of a few
 * hundred kB are mapped and faulted in on every use), so `openmm-bg train` leaves glibc's defaults
 * and only the benchmarks call it on request (`malloc limit`); call it for large Systems whose
 * memory matters more than speed (LJ13 batch 128: 2.3 GB with it, 10.2 GB without).
 *
 * @param mmapThresholdBytes  allocations at least this large use mmap (bytes; default 128 KiB)
 * @param trimThresholdBytes  free memory at the top of the heap above this is released (bytes)
 * @return true if the C library accepted the settings
 */
bool limitHeapFragmentation(std::size_t mmapThresholdBytes = 128 * 1024, std::size_t trimThresholdBytes = 128 * 1024);

} // namespace bg

#endif
