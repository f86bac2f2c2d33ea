/* pool_worker.c - framed messages for the Pool worker loop (see pool_worker.h). */
#include "pool_worker.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define READ_CHUNK (64u * 1024u)

static uint64_t get_le64(const char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | (unsigned char)p[i];
    return v;
}

static void put_le64(char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++, v >>= 8)
        p[i] = (char)(v & 0xff);
}

void cmp_frame_reader_init(cmp_frame_reader *r, int fd)
{
    r->fd = fd;
    r->buf = NULL;
    r->cap = r->start = r->end = 0;
}

void cmp_frame_reader_free(cmp_frame_reader *r)
{
    free(r->buf);
    r->buf = NULL;
    r->cap = r->start = r->end = 0;
}

/* Room for `need` more bytes after end (moving or growing the buffer). */
static int reserve(cmp_frame_reader *r, size_t need)
{
    if (r->start > 0 && r->start == r->end)
        r->start = r->end = 0;
    if (r->cap - r->end >= need)
        return 0;
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
        if (r->cap - r->end >= need)
            return 0;
    }
    size_t cap = r->cap ? r->cap : READ_CHUNK;
    while (cap - r->end < need) {
        if (cap > SIZE_MAX / 2)
            return -ENOMEM;
        cap *= 2;
    }
    char *buf = realloc(r->buf, cap);
    if (buf == NULL)
        return -ENOMEM;
    r->buf = buf;
    r->cap = cap;
    return 0;
}

int cmp_frame_next(cmp_frame_reader *r, const char **msg, uint64_t *len)
{
    for (;;) {
        size_t have = r->end - r->start;
        if (have >= CMP_FRAME_HEADER) {
            uint64_t n = get_le64(r->buf + r->start);
            if (n > SIZE_MAX - CMP_FRAME_HEADER)
                return -EPROTO;
            if (have - CMP_FRAME_HEADER >= n) {
                *msg = r->buf + r->start + CMP_FRAME_HEADER;
                *len = n;
                r->start += CMP_FRAME_HEADER + (size_t)n;
                return CMP_FRAME_OK;
            }
            int err = reserve(r, CMP_FRAME_HEADER + (size_t)n - have);
            if (err)
                return err;
        } else {
            int err = reserve(r, READ_CHUNK);
            if (err)
                return err;
        }
        ssize_t got = read(r->fd, r->buf + r->end, r->cap - r->end);
        if (got < 0)
            return -errno;
        if (got == 0)
            return r->end == r->start ? CMP_FRAME_EOF : -EPROTO;
        r->end += (size_t)got;
    }
}

int cmp_frame_write(int fd, const char *body, uint64_t len)
{
    char head[CMP_FRAME_HEADER];
    put_le64(head, len);
    struct iovec iov[2] = {
        {.iov_base = head, .iov_len = sizeof head},
        {.iov_base = (void *)body, .iov_len = (size_t)len},
    };
    int n = 2;
    struct iovec *v = iov;
    while (n > 0) {
        ssize_t put = writev(fd, v, n);
        if (put < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        size_t done = (size_t)put;
        while (n > 0 && done >= v->iov_len) {
            done -= v->iov_len;
            v++;
            n--;
        }
        if (n > 0) {
            v->iov_base = (char *)v->iov_base + done;
            v->iov_len -= done;
        }
    }
    return 0;
}
