/*
 * buffer.h - the shared bytes of a Value or Array, and typed atomic access
 * to the scalars in them.
 *
 * Shared layout (the body of a cmp object of kind CMP_KIND_BUFFER):
 *
 *   +0   uint64_t nbytes     payload size, fixed at creation
 *   +8   uint64_t reserved
 *   +16  payload[nbytes]     the ctypes object's memory; 16-byte aligned
 *                            (bodies are 16-aligned, see arena.h), so every
 *                            scalar of the typecode table is naturally
 *                            aligned in a Value or an Array
 *
 * The buffer has no state of its own: it lives while its shared reference
 * count says so (arena.h).  Whatever guards it (an RLock of the caller's
 * choice) is a separate object.
 *
 * Scalars are named by the stdlib's typecodes (c b B h H i I l L q Q f d).
 * Every load and store of a scalar here is one atomic access of its natural
 * width, so no reader ever sees half of a write, lock or no lock.  Plain
 * loads and stores are relaxed: tearing is what they rule out, ordering
 * comes from the lock that guards the Value (its acquire/release), or is
 * not promised (a Value used without its lock).  The read-modify-write
 * operations (fetch_add, exchange, compare_exchange) are sequentially
 * consistent, so a counter built on them needs no lock, and they wrap
 * around in two's complement at the type's width, as ctypes' stores do.
 */
#ifndef CMP_BUFFER_H
#define CMP_BUFFER_H

#include <stdint.h>
#include <string.h>

typedef struct {
    uint64_t nbytes;
    uint64_t reserved;
} cmp_buffer;

#define CMP_BUFFER_HDR ((uint64_t)sizeof(cmp_buffer))

static inline char *cmp_buffer_data(cmp_buffer *b)
{
    return (char *)b + CMP_BUFFER_HDR;
}

/* A scalar widened to 64 bits: signed codes fill i, unsigned codes u,
 * floating codes d. */
typedef union {
    int64_t i;
    uint64_t u;
    double d;
} cmp_scalar;

/* Classes of typecode. */
enum {
    CMP_CODE_NONE = 0,      /* not a typecode of the table */
    CMP_CODE_SIGNED = 1,    /* b h i l q */
    CMP_CODE_UNSIGNED = 2,  /* B H I L Q, and c (one byte) */
    CMP_CODE_FLOAT = 3,     /* f d */
};

static inline int cmp_code_class(char code)
{
    switch (code) {
    case 'b': case 'h': case 'i': case 'l': case 'q':
        return CMP_CODE_SIGNED;
    case 'B': case 'H': case 'I': case 'L': case 'Q': case 'c':
        return CMP_CODE_UNSIGNED;
    case 'f': case 'd':
        return CMP_CODE_FLOAT;
    default:
        return CMP_CODE_NONE;
    }
}

/* Size in bytes of one scalar of `code`, 0 if not in the table. */
static inline size_t cmp_code_size(char code)
{
    switch (code) {
    case 'c': case 'b': case 'B': return 1;
    case 'h': case 'H': return sizeof(short);
    case 'i': case 'I': return sizeof(int);
    case 'l': case 'L': return sizeof(long);
    case 'q': case 'Q': return sizeof(long long);
    case 'f': return sizeof(float);
    case 'd': return sizeof(double);
    default: return 0;
    }
}

/* The memory orders below: relaxed for plain loads and stores (tearing is
 * what they must rule out; ordering comes from the guarding lock), seq_cst
 * for read-modify-write (a lock-free counter must not need a fence). */
#define CMP_LOAD(T, p) __atomic_load_n((T *)(p), __ATOMIC_RELAXED)
#define CMP_STORE(T, p, v) __atomic_store_n((T *)(p), (T)(v), __ATOMIC_RELAXED)

static inline cmp_scalar cmp_scalar_load(char code, const void *p)
{
    cmp_scalar s;
    switch (code) {
    case 'b': s.i = CMP_LOAD(const int8_t, p); break;
    case 'h': s.i = CMP_LOAD(const short, p); break;
    case 'i': s.i = CMP_LOAD(const int, p); break;
    case 'l': s.i = CMP_LOAD(const long, p); break;
    case 'q': s.i = CMP_LOAD(const long long, p); break;
    case 'c': case 'B': s.u = CMP_LOAD(const uint8_t, p); break;
    case 'H': s.u = CMP_LOAD(const unsigned short, p); break;
    case 'I': s.u = CMP_LOAD(const unsigned int, p); break;
    case 'L': s.u = CMP_LOAD(const unsigned long, p); break;
    case 'Q': s.u = CMP_LOAD(const unsigned long long, p); break;
    case 'f': {
        uint32_t bits = CMP_LOAD(const uint32_t, p);
        float f;
        memcpy(&f, &bits, sizeof f);
        s.d = f;
        break;
    }
    case 'd': {
        uint64_t bits = CMP_LOAD(const uint64_t, p);
        memcpy(&s.d, &bits, sizeof s.d);
        break;
    }
    default: s.u = 0; break;
    }
    return s;
}

/* Store: integers are truncated to the type's width (pass them in u). */
static inline void cmp_scalar_store(char code, void *p, cmp_scalar s)
{
    switch (code) {
    case 'c': case 'b': case 'B': CMP_STORE(uint8_t, p, s.u); break;
    case 'h': case 'H': CMP_STORE(unsigned short, p, s.u); break;
    case 'i': case 'I': CMP_STORE(unsigned int, p, s.u); break;
    case 'l': case 'L': CMP_STORE(unsigned long, p, s.u); break;
    case 'q': case 'Q': CMP_STORE(unsigned long long, p, s.u); break;
    case 'f': {
        float f = (float)s.d;
        uint32_t bits;
        memcpy(&bits, &f, sizeof bits);
        CMP_STORE(uint32_t, p, bits);
        break;
    }
    case 'd': {
        uint64_t bits;
        memcpy(&bits, &s.d, sizeof bits);
        CMP_STORE(uint64_t, p, bits);
        break;
    }
    default: break;
    }
}

/* Widen an integer of `code` read as raw unsigned bits. */
static inline cmp_scalar cmp_scalar_widen(char code, uint64_t bits)
{
    cmp_scalar s;
    switch (code) {
    case 'b': s.i = (int8_t)bits; break;
    case 'h': s.i = (short)bits; break;
    case 'i': s.i = (int)bits; break;
    case 'l': s.i = (long)bits; break;
    case 'q': s.i = (long long)bits; break;
    default: s.u = bits; break;
    }
    return s;
}

/* Integer read-modify-write; `code` must be of class SIGNED or UNSIGNED
 * and not 'c'.  Unsigned arithmetic wraps, which is two's complement for
 * the signed codes too.  Each returns the old value. */
#define CMP_RMW_SWITCH(code, OP)                                            \
    switch (code) {                                                         \
    case 'b': case 'B': OP(uint8_t); break;                                 \
    case 'h': case 'H': OP(unsigned short); break;                          \
    case 'i': case 'I': OP(unsigned int); break;                            \
    case 'l': case 'L': OP(unsigned long); break;                           \
    default: OP(unsigned long long); break;                                 \
    }

static inline cmp_scalar cmp_scalar_fetch_add(char code, void *p, uint64_t delta)
{
    uint64_t old = 0;
#define FETCH_ADD(T) old = __atomic_fetch_add((T *)p, (T)delta, __ATOMIC_SEQ_CST)
    CMP_RMW_SWITCH(code, FETCH_ADD)
#undef FETCH_ADD
    return cmp_scalar_widen(code, old);
}

static inline cmp_scalar cmp_scalar_exchange(char code, void *p, uint64_t value)
{
    uint64_t old = 0;
#define EXCHANGE(T) old = __atomic_exchange_n((T *)p, (T)value, __ATOMIC_SEQ_CST)
    CMP_RMW_SWITCH(code, EXCHANGE)
#undef EXCHANGE
    return cmp_scalar_widen(code, old);
}

/* Store `desired` if the scalar equals `expected` (both truncated to the
 * type's width).  Returns the value found; it equals `expected` (widened)
 * exactly when the store happened. */
static inline cmp_scalar cmp_scalar_compare_exchange(char code, void *p,
                                                     uint64_t expected,
                                                     uint64_t desired)
{
    uint64_t old = 0;
#define CAS(T)                                                              \
    do {                                                                    \
        T e = (T)expected;                                                  \
        __atomic_compare_exchange_n((T *)p, &e, (T)desired, 0,              \
                                    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);    \
        old = e;                                                            \
    } while (0)
    CMP_RMW_SWITCH(code, CAS)
#undef CAS
    return cmp_scalar_widen(code, old);
}

#undef CMP_LOAD
#undef CMP_STORE

#endif /* CMP_BUFFER_H */
