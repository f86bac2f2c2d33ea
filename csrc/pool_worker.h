/*
 * pool_worker.h - the pure C half of a Pool worker's loop: length-prefixed
 * messages on a file descriptor (no Python.h; the binding in
 * csrc/python/pool_type.c runs the loop and calls back into Python to run
 * each task).
 *
 * A message on the wire (both directions, see cmp/pool.py):
 *
 *   +0  uint64_t length   little-endian, the bytes that follow
 *   +8  length bytes      a pickle (a task, a batch, a result); length 0
 *                         is the STOP message
 *
 * The reader owns one growable buffer: [start, end) holds bytes read but
 * not handed out yet.  States of a read:
 *   CMP_FRAME_OK      a whole message is at *msg (valid until the next call)
 *   CMP_FRAME_EOF     the writer closed the channel between messages
 *   negative          -errno (-EINTR: a signal arrived, call again after
 *                     handling it; -EPROTO: end of file inside a message)
 *
 * These are blocking calls: the binding releases the GIL around them.
 * This is the pipe channel (CMP_POOL_CHANNEL=pipe); by default a Pool's
 * channels are shared rings (csrc/python/pool_type.c over csrc/ring.h).
 */
#ifndef CMP_POOL_WORKER_H
#define CMP_POOL_WORKER_H

#include <stddef.h>
#include <stdint.h>

#define CMP_FRAME_OK 1
#define CMP_FRAME_EOF 0
#define CMP_FRAME_HEADER 8

typedef struct {
    int fd;
    char *buf;
    size_t cap, start, end;
} cmp_frame_reader;

void cmp_frame_reader_init(cmp_frame_reader *r, int fd);
void cmp_frame_reader_free(cmp_frame_reader *r);
/* The next message, reading as needed. */
int cmp_frame_next(cmp_frame_reader *r, const char **msg, uint64_t *len);
/* Write one message (header and body) completely: 0 or -errno. */
int cmp_frame_write(int fd, const char *body, uint64_t len);

#endif
