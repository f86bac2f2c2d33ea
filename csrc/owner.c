/* owner.c - cached own ids and start times, and owner liveness (owner.h). */
#define _GNU_SOURCE
#include "owner.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

cmp_self_ids cmp_cached_proc;
__thread cmp_self_ids cmp_cached_thread;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* In the child only the forking thread survives: its caches are the stale
 * ones, and they are reset here. */
static void reset_after_fork(void)
{
    memset(&cmp_cached_proc, 0, sizeof cmp_cached_proc);
    memset(&cmp_cached_thread, 0, sizeof cmp_cached_thread);
}

static void install_atfork(void) { pthread_atfork(NULL, NULL, reset_after_fork); }

/* What /proc/PATH says of a task: TASK_GONE (no such task, or a zombie:
 * a killed process stays one until its parent reaps it, and the parent
 * may be the very waiter), TASK_UNKNOWN (unreadable), else TASK_RUNNING
 * with *start its start time in clock ticks (field 22). */
enum { TASK_GONE, TASK_UNKNOWN, TASK_RUNNING };

static int read_stat(const char *path, uint64_t *start)
{
    char buf[1024];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT || errno == ESRCH ? TASK_GONE : TASK_UNKNOWN;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return n < 0 && errno == ESRCH ? TASK_GONE : TASK_UNKNOWN;
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');     /* the name may hold anything */
    if (!p || p[1] != ' ')
        return TASK_UNKNOWN;
    char state = p[2];
    if (state == 'Z' || state == 'X' || state == 'x')
        return TASK_GONE;
    /* p + 2 is field 3 (state); field 22 is 19 fields further. */
    p += 2;
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p)
            return TASK_UNKNOWN;
        p++;
    }
    *start = strtoull(p, NULL, 10);
    return TASK_RUNNING;
}

static void fill(cmp_self_ids *ids, uint32_t id, const char *path)
{
    uint64_t start = 0;
    read_stat(path, &start);    /* unreadable /proc: stamp 0, ids still work */
    ids->start = (uint32_t)start;
    ids->token = (id & CMP_OWNER_ID_MASK) |
                 (((uint32_t)start & ((1u << CMP_OWNER_STAMP_BITS) - 1)) << CMP_OWNER_ID_BITS);
    /* Last: a nonzero id marks the cache valid. */
    ids->id = id;
}

/* The slow halves of cmp_self_proc and cmp_self_thread (owner.h). */
const cmp_self_ids *cmp_read_proc(void)
{
    pthread_once(&atfork_once, install_atfork);
    fill(&cmp_cached_proc, (uint32_t)getpid(), "/proc/self/stat");
    return &cmp_cached_proc;
}

const cmp_self_ids *cmp_read_thread(void)
{
    pthread_once(&atfork_once, install_atfork);
    fill(&cmp_cached_thread, (uint32_t)syscall(SYS_gettid), "/proc/thread-self/stat");
    return &cmp_cached_thread;
}

int cmp_task_alive(uint32_t id, uint32_t stamp, unsigned bits)
{
    if (id == 0)
        return 0;
    if (kill((pid_t)id, 0) < 0 && errno == ESRCH)
        return 0;
    char path[64];
    uint64_t start = 0;
    /* /proc/ID works for thread ids too (an RLock's owner). */
    snprintf(path, sizeof path, "/proc/%u/stat", id);
    int st = read_stat(path, &start);
    if (st != TASK_RUNNING)
        return st != TASK_GONE;
    if (bits == 0)
        return 1;
    uint32_t mask = bits >= 32 ? UINT32_MAX : (1u << bits) - 1;
    /* Another start time: the id was reused, the owner is dead. */
    return ((uint32_t)start & mask) == (stamp & mask);
}

int cmp_task_start(uint32_t id, uint32_t *start)
{
    char path[64];
    uint64_t ticks = 0;
    snprintf(path, sizeof path, "/proc/%u/stat", id);
    if (id == 0 || read_stat(path, &ticks) != TASK_RUNNING)
        return 0;
    *start = (uint32_t)ticks;
    return 1;
}

int cmp_owner_alive(uint32_t token, uint32_t stamp)
{
    uint32_t word_stamp = (token & CMP_OWNER_MASK) >> CMP_OWNER_ID_BITS;
    uint32_t low = (1u << CMP_OWNER_STAMP_BITS) - 1;
    /* The 32-bit stamp is written after the word: trust it only when it
     * agrees with the word's bits (owner.h). */
    if ((stamp & low) == word_stamp)
        return cmp_task_alive(cmp_owner_id(token), stamp, 32);
    return cmp_task_alive(cmp_owner_id(token), word_stamp, CMP_OWNER_STAMP_BITS);
}
