/* SPDX-License-Identifier: MIT */
/*
 * Size-first structs across the library ABI (docs/api-conventions.md): the
 * caller's `size` says which version of a struct it was compiled with.
 * Shared by libhv and libhvguest; private to them.
 */
#ifndef LIBHV_STRUCT_IO_H
#define LIBHV_STRUCT_IO_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * Copies a caller's input struct into a zeroed local one. Fields beyond the
 * caller's size keep their zero defaults. A size below min_size (the
 * struct's first published size) is -EINVAL; bytes beyond what this library
 * knows must be zero, or the caller asks for something it lacks: -E2BIG.
 */
static inline int struct_in(void *local, size_t local_size, const void *user,
                            size_t min_size)
{
    size_t size = *(const size_t *)user;

    memset(local, 0, local_size);
    if (size < min_size)
        return -EINVAL;
    if (size > local_size) {
        for (size_t i = local_size; i < size; i++)
            if (((const uint8_t *)user)[i])
                return -E2BIG;
        size = local_size;
    }
    memcpy(local, user, size);
    return 0;
}

/*
 * Copies a result to a caller compiled against an older or newer header:
 * only the bytes both know, keeping the caller's size.
 */
static inline void struct_out(void *user, void *local, size_t local_size)
{
    size_t size = *(const size_t *)user;

    *(size_t *)local = size;
    memcpy(user, local, size < local_size ? size : local_size);
}

#endif
