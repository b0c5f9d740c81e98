// Tiny C shims for what Swift cannot import from the system libraries:
// variadic functions, function-like macros, and callbacks that need a C signature.
#ifndef CPATHSHIMS_H
#define CPATHSHIMS_H

#include <stdint.h>
#include <stddef.h>

/// Replace libdevmapper's default logger (which prints to stderr) with one that
/// stores the last error message in a thread-local buffer, readable with
/// cpathshims_dm_last_error(). Call once before the first dm task.
void cpathshims_dm_install_log(void);

/// Last message libdevmapper logged at error level on this thread ("" if none);
/// cleared by cpathshims_dm_clear_error().
const char *cpathshims_dm_last_error(void);
void cpathshims_dm_clear_error(void);


struct dm_names;
/// Walks libdevmapper's DM_DEVICE_LIST result (a packed list with byte offsets and a
/// flexible name array, which Swift cannot index). Returns NULL after the last entry or
/// when the list is empty.
struct dm_names *cpathshims_dm_names_first(struct dm_names *names);
struct dm_names *cpathshims_dm_names_next(struct dm_names *entry);
const char *cpathshims_dm_names_name(struct dm_names *entry);
uint64_t cpathshims_dm_names_dev(struct dm_names *entry);

/// Layout of Linux's `struct ucred` (what getsockopt(SO_PEERCRED) fills); glibc only
/// declares it under _GNU_SOURCE, which Swift's Glibc module does not set.
/// shim.c asserts the layout against the real struct.
struct cpathshims_ucred {
    int32_t pid;
    uint32_t uid;
    uint32_t gid;
};

#endif
