/* owner.c - cached process and thread ids, and owner liveness (owner.h). */
#define _GNU_SOURCE
#include "owner.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

uint32_t cmp_cached_pid;
__thread uint32_t cmp_cached_tid;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* In the child only the forking thread survives: its caches are the stale
 * ones, and they are reset here. */
static void reset_after_fork(void)
{
    cmp_cached_pid = 0;
    cmp_cached_tid = 0;
}

static void install_atfork(void) { pthread_atfork(NULL, NULL, reset_after_fork); }

/* The slow halves of cmp_self_pid and cmp_self_tid (owner.h). */
uint32_t cmp_read_pid(void)
{
    pthread_once(&atfork_once, install_atfork);
    return cmp_cached_pid = (uint32_t)getpid();
}

uint32_t cmp_read_tid(void)
{
    pthread_once(&atfork_once, install_atfork);
    return cmp_cached_tid = (uint32_t)syscall(SYS_gettid);
}

int cmp_owner_alive(uint32_t id)
{
    if (id == 0)
        return 0;
    if (kill((pid_t)id, 0) < 0 && errno == ESRCH)
        return 0;
    /* A killed process stays a zombie until its parent reaps it, and the
     * parent may be the very waiter: look at the state in /proc. */
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%u/stat", id);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno != ENOENT;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 1;
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')');
    if (!paren || paren[1] != ' ')
        return 1;
    char state = paren[2];
    return !(state == 'Z' || state == 'X' || state == 'x');
}
