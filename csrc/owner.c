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

static uint32_t cached_pid;
/* initial-exec: one %fs-relative load instead of a __tls_get_addr call. */
static __thread uint32_t cached_tid __attribute__((tls_model("initial-exec")));
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* In the child only the forking thread survives: its caches are the stale
 * ones, and they are reset here. */
static void reset_after_fork(void)
{
    cached_pid = 0;
    cached_tid = 0;
}

static void install_atfork(void) { pthread_atfork(NULL, NULL, reset_after_fork); }

uint32_t cmp_self_pid(void)
{
    uint32_t p = cached_pid;
    if (p == 0) {
        pthread_once(&atfork_once, install_atfork);
        p = cached_pid = (uint32_t)getpid();
    }
    return p;
}

uint32_t cmp_self_tid(void)
{
    uint32_t t = cached_tid;
    if (t == 0) {
        pthread_once(&atfork_once, install_atfork);
        t = cached_tid = (uint32_t)syscall(SYS_gettid);
    }
    return t;
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
