/* SPDX-License-Identifier: MIT */
/*
 * Loading happens in two phases, prepare (validate + map) and commit (copy),
 * so that a bad image never leaves a half-written guest behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hv/hvguest.h"
#include "internal.h"

#define PAGE_MASK (HV_PAGE_SIZE - 1)

static const char *errstr(int e, char *buf, size_t len)
{
    return strerror_r(e, buf, len); /* GNU variant: _GNU_SOURCE is set */
}

int hvg_read_file(hv_t *hv, const char *path, void **out, size_t *out_len)
{
    char eb[128];
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return hv_error(hv, -e, "%s: cannot open: %s", path,
                        errstr(e, eb, sizeof(eb)));
    }
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return hv_error(hv, -e, "%s: cannot stat: %s", path,
                        errstr(e, eb, sizeof(eb)));
    }
    /* Devices and pipes have no trustworthy size; a kernel is a file. */
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return hv_error(hv, -ENOEXEC, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > HVG_ELF_FILE_MAX) {
        close(fd);
        return hv_error(hv, -EFBIG, "%s: %lld bytes, larger than the %llu "
                        "MiB a kernel image may have", path,
                        (long long)st.st_size, HVG_ELF_FILE_MAX >> 20);
    }

    size_t len = (size_t)st.st_size, got = 0;
    unsigned char *buf = malloc(len ? len : 1);
    if (!buf) {
        close(fd);
        return hv_error(hv, -ENOMEM, "%s: cannot allocate %zu bytes", path,
                        len);
    }
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : 0;
            free(buf);
            close(fd);
            if (!e)
                return hv_error(hv, -EIO, "%s: file shrank while being read "
                                "(%zu of %zu bytes)", path, got, len);
            return hv_error(hv, -e, "%s: read failed: %s", path,
                            errstr(e, eb, sizeof(eb)));
        }
        got += (size_t)n;
    }
    close(fd);
    *out = buf;
    *out_len = len;
    return 0;
}

int hvg_elf_prepare(hv_domain_t *dom, const void *image, size_t len,
                    const char *name, uint64_t mem_size,
                    struct hvg_elf_plan *plan)
{
    hv_t *hv = hv_domain_host(dom);
    char err[256];
    int r = hvg_elf_check(image, len, mem_size, plan->segs, HVG_ELF_MAX_SEGS,
                          &plan->layout, err, sizeof(err));
    if (r < 0)
        return hv_error(hv, r, "%s: %s", name, err);

    for (size_t i = 0; i < plan->layout.nsegs; i++) {
        const struct hvg_elf_seg *s = &plan->segs[i];
        uint64_t span = (s->memsz + PAGE_MASK) & ~PAGE_MASK;
        r = hv_domain_memory_map(dom, s->vaddr, span, &plan->dst[i]);
        if (r < 0)
            return hv_error(hv, r, "%s: segment %u [0x%llx - 0x%llx) cannot "
                            "be mapped", name, s->index,
                            (unsigned long long)s->vaddr,
                            (unsigned long long)(s->vaddr + span));
    }
    return 0;
}

void hvg_elf_commit(const struct hvg_elf_plan *plan, const void *image)
{
    const unsigned char *src = image;
    for (size_t i = 0; i < plan->layout.nsegs; i++) {
        const struct hvg_elf_seg *s = &plan->segs[i];
        uint64_t span = (s->memsz + PAGE_MASK) & ~PAGE_MASK;
        unsigned char *dst = plan->dst[i];
        memcpy(dst, src + s->offset, s->filesz);
        /* The bss and the page tail: RAM may hold an earlier load. */
        memset(dst + s->filesz, 0, span - s->filesz);
    }
}

static void fill_info(hvg_elf_info_t *info, const struct hvg_elf_layout *l)
{
    hvg_elf_info_t full = {
        .size = info->size,
        .entry = l->entry,
        .image_start = l->image_start,
        .image_end = l->image_end,
        .segments = (uint32_t)l->nsegs,
    };
    /* An older caller's smaller struct gets the fields it knows about. */
    memcpy(info, &full, info->size < sizeof(full) ? info->size : sizeof(full));
}

int hvg_load_elf_image(hv_domain_t *dom, const void *image, size_t len,
                       const char *name, hvg_elf_info_t *info)
{
    if (!dom)
        return -EINVAL;
    hv_t *hv = hv_domain_host(dom);
    if (!name)
        name = "ELF image";
    if (info && info->size < sizeof(size_t))
        return hv_error(hv, -EINVAL, "%s: hvg_elf_info_t.size not set", name);

    hv_domain_info_t di = { .size = sizeof(di) };
    int r = hv_domain_info(dom, &di);
    if (r < 0)
        return r;

    struct hvg_elf_plan plan;
    if ((r = hvg_elf_prepare(dom, image, len, name, di.memory_bytes, &plan)) < 0)
        return r;
    hvg_elf_commit(&plan, image);
    if (info)
        fill_info(info, &plan.layout);
    return 0;
}

int hvg_load_elf(hv_domain_t *dom, const char *path, hvg_elf_info_t *info)
{
    if (!dom)
        return -EINVAL;
    if (!path)
        return hv_error(hv_domain_host(dom), -EINVAL, "no ELF path given");
    void *buf;
    size_t len;
    int r = hvg_read_file(hv_domain_host(dom), path, &buf, &len);
    if (r < 0)
        return r;
    r = hvg_load_elf_image(dom, buf, len, path, info);
    free(buf);
    return r;
}
