#define _GNU_SOURCE
#include <sys/socket.h>
#include <stddef.h>
#include "CPathShims.h"
#include <libdevmapper.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static __thread char dm_last_error[512];

// libdevmapper's log hook is variadic (printf-style), which Swift cannot implement.
static void cpathshims_dm_log(int level, const char *file, int line, int dm_errno_or_class,
                              const char *fmt, ...) {
    (void)file; (void)line; (void)dm_errno_or_class;
    // keep errors (level <= _LOG_ERR == 3) for the caller; drop warnings and debug chatter
    if ((level & 7) > 3) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dm_last_error, sizeof dm_last_error, fmt, ap);
    va_end(ap);
}

void cpathshims_dm_install_log(void) { dm_log_with_errno_init(cpathshims_dm_log); }
const char *cpathshims_dm_last_error(void) { return dm_last_error; }
void cpathshims_dm_clear_error(void) { dm_last_error[0] = 0; }

struct dm_names *cpathshims_dm_names_first(struct dm_names *names) {
    // an empty list is one entry with dev == 0
    if (!names || !names->dev) return NULL;
    return names;
}
struct dm_names *cpathshims_dm_names_next(struct dm_names *entry) {
    if (!entry || !entry->next) return NULL;
    return (struct dm_names *)((char *)entry + entry->next);
}
const char *cpathshims_dm_names_name(struct dm_names *entry) { return entry->name; }
uint64_t cpathshims_dm_names_dev(struct dm_names *entry) { return entry->dev; }

_Static_assert(sizeof(struct cpathshims_ucred) == sizeof(struct ucred), "ucred size");
_Static_assert(offsetof(struct cpathshims_ucred, uid) == offsetof(struct ucred, uid), "ucred uid");
_Static_assert(offsetof(struct cpathshims_ucred, gid) == offsetof(struct ucred, gid), "ucred gid");
