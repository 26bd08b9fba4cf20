/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the xl.cfg parser (xl/config.c). The input is split
 * at the first 0xff byte: before it the file, after it one command-line
 * override. Beyond "no crash, no sanitizer report": parse returns 0 or
 * -EINVAL, a failure always leaves a message naming the file and an empty
 * config, and a config that finishes satisfies the documented ranges.
 *
 * The file is copied into a buffer of its exact size, so that reading one
 * byte past it (a missing length check) is an ASan report.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xl/config.h"

#define CHECK(cond) \
    do { \
        if (!(cond)) \
            abort(); \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *sep = memchr(data, 0xff, size);
    size_t flen = sep ? (size_t)(sep - data) : size;
    char *file = malloc(flen ? flen : 1);
    char err[256];
    struct xl_config c;

    CHECK(file);
    memcpy(file, data, flen);
    int r = xl_config_parse(&c, file, flen, "f.cfg", err, sizeof(err));
    free(file);
    CHECK(r == 0 || r == -EINVAL);
    if (r < 0) {
        CHECK(strncmp(err, "f.cfg:", 6) == 0);
        CHECK(c.name == NULL && c.kernel == NULL && c.cpus == NULL &&
              c.cmdline == NULL);
        return 0;
    }
    if (sep) {
        size_t olen = size - flen - 1;
        char *ov = malloc(olen + 1);
        CHECK(ov);
        memcpy(ov, sep + 1, olen);
        ov[olen] = '\0';
        r = xl_config_override(&c, ov, err, sizeof(err));
        free(ov);
        CHECK(r == 0 || r == -EINVAL);
        if (r < 0)
            CHECK(strncmp(err, "command line", 12) == 0);
    }
    r = xl_config_finish(&c, "f.cfg", err, sizeof(err));
    CHECK(r == 0 || r == -EINVAL);
    if (r == 0) {
        CHECK(c.name && c.kernel && c.kernel[0]);
        CHECK(strlen(c.name) >= 1 && strlen(c.name) <= XL_CONFIG_MAX_NAME);
        CHECK(strspn(c.name, "abcdefghijklmnopqrstuvwxyz"
                             "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
              strlen(c.name));
        CHECK(c.memory_mb >= 1 && c.maxmem_mb >= c.memory_mb);
        CHECK(c.vcpus >= 1 && c.vcpus <= c.maxvcpus &&
              c.maxvcpus <= XL_CONFIG_MAX_VCPUS);
        CHECK(c.cpu_weight >= 1 && c.cpu_weight <= 65535);
        CHECK(!c.cpus || strspn(c.cpus, "0123456789-,") == strlen(c.cpus));
        CHECK(!c.cmdline || strlen(c.cmdline) <= XL_CONFIG_MAX_STRING);
    }
    xl_config_free(&c);
    return 0;
}
