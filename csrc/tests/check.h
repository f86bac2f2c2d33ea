/*
 * check.h - the C tests' one assertion: print the failed condition and
 * its place, exit 1.
 */
#ifndef CMP_TEST_CHECK_H
#define CMP_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                  \
            exit(1);                                                         \
        }                                                                    \
    } while (0)

#endif /* CMP_TEST_CHECK_H */
