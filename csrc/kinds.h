/* kinds.h - the kinds of shared object, stored in cmp_obj_hdr.kind. */
#ifndef CMP_KINDS_H
#define CMP_KINDS_H

/* 0 is no kind; 9 was a removed pool transport's. */
enum {
    CMP_KIND_LOCK = 1,
    CMP_KIND_RLOCK = 2,
    CMP_KIND_SEMAPHORE = 3,
    CMP_KIND_EVENT = 4,
    CMP_KIND_CONDITION = 5,
    CMP_KIND_BARRIER = 6,
    CMP_KIND_BUFFER = 7,    /* sharedctypes: raw bytes of a Value or Array */
    CMP_KIND_QUEUE = 8,
    CMP_KIND_DICT = 10,     /* cmp.Dict: csrc/dict.h */
    CMP_KIND_CHANNEL = 11,  /* a Pool's ring: csrc/python/channel_type.c */
    CMP_KIND_COUNT = 16
};

#endif /* CMP_KINDS_H */
