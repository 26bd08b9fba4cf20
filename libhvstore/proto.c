/* SPDX-License-Identifier: MIT */
/*
 * The xenstore wire protocol: framing, argument splitting, errno names.
 * Everything here reads bytes a peer sent, so every length is checked
 * before it is used and nothing assumes a NUL the peer did not send.
 */
#include "proto.h"

#include <errno.h>
#include <string.h>

int xs_decode(const void *buf, size_t avail, struct xs_msg *msg, size_t *consumed)
{
    struct xs_header h;

    if (avail < XS_HEADER_SIZE)
        return 0;
    /* The caller's buffer need not be aligned for uint32_t. */
    memcpy(&h, buf, XS_HEADER_SIZE);
    if (h.len > HVS_PAYLOAD_MAX)
        return -EINVAL;
    if (avail - XS_HEADER_SIZE < h.len)
        return 0;
    msg->hdr = h;
    msg->payload = (const char *)buf + XS_HEADER_SIZE;
    *consumed = XS_HEADER_SIZE + (size_t)h.len;
    return 1;
}

int xs_split(const char *payload, uint32_t len, unsigned n, bool last_raw, const char **args,
             size_t *lens)
{
    uint32_t off = 0;
    unsigned terminated = last_raw && n > 0 ? n - 1 : n;

    for (unsigned i = 0; i < terminated; i++) {
        /* off == len: memchr on a possibly NULL payload is undefined. */
        const char *nul = off < len ? memchr(payload + off, '\0', len - off) : NULL;
        if (!nul)
            return -EINVAL;
        args[i] = payload + off;
        if (lens)
            lens[i] = (size_t)(nul - (payload + off));
        off = (uint32_t)(nul - payload) + 1;
    }
    if (terminated < n) {
        /* WRITE's value: whatever is left, NULs included, possibly nothing. */
        args[n - 1] = off ? payload + off : payload; /* NULL + 0 is undefined */
        if (lens)
            lens[n - 1] = len - off;
        return 0;
    }
    return off == len ? 0 : -EINVAL;
}

int xs_count_strings(const char *payload, uint32_t len)
{
    int count = 0;

    if (len == 0)
        return 0;
    if (payload[len - 1] != '\0')
        return -EINVAL;
    for (uint32_t i = 0; i < len; i++)
        if (payload[i] == '\0')
            count++;
    return count;
}

int xs_parse_u32(const char *s, uint32_t *out)
{
    uint64_t v = 0;

    /* strtoul would accept signs, spaces and "0x": the wire is stricter. */
    if (!s || !*s)
        return -EINVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -EINVAL;
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > UINT32_MAX)
            return -EINVAL;
    }
    *out = (uint32_t)v;
    return 0;
}

static const struct {
    int err;
    const char *name;
} errno_names[] = {
    {EINVAL, "EINVAL"},  {EACCES, "EACCES"},       {EEXIST, "EEXIST"}, {EISDIR, "EISDIR"},
    {ENOENT, "ENOENT"},  {ENOMEM, "ENOMEM"},       {ENOSPC, "ENOSPC"}, {EIO, "EIO"},
    {ENOTEMPTY, "ENOTEMPTY"}, {ENOSYS, "ENOSYS"},  {EROFS, "EROFS"},   {EBUSY, "EBUSY"},
    {EAGAIN, "EAGAIN"},  {EISCONN, "EISCONN"},     {E2BIG, "E2BIG"},   {EPERM, "EPERM"},
    /* Ours: Xen has no quota errno, and a client needs "daemon gone". */
    {EDQUOT, "EDQUOT"},  {ENOTCONN, "ENOTCONN"},
};

const char *xs_errno_name(int err)
{
    for (size_t i = 0; i < sizeof(errno_names) / sizeof(errno_names[0]); i++)
        if (errno_names[i].err == err)
            return errno_names[i].name;
    return "EIO";
}

int xs_errno_from_name(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(errno_names) / sizeof(errno_names[0]); i++)
        if (strlen(errno_names[i].name) == len && memcmp(errno_names[i].name, name, len) == 0)
            return errno_names[i].err;
    return EINVAL;
}

void xs_header_put(void *out, uint32_t type, uint32_t req_id, uint32_t tx_id, uint32_t len)
{
    struct xs_header h = {.type = type, .req_id = req_id, .tx_id = tx_id, .len = len};

    memcpy(out, &h, XS_HEADER_SIZE);
}

const char *xs_type_name(uint32_t type)
{
    switch (type) {
    case XS_CONTROL: return "CONTROL";
    case XS_DIRECTORY: return "DIRECTORY";
    case XS_READ: return "READ";
    case XS_GET_PERMS: return "GET_PERMS";
    case XS_WATCH: return "WATCH";
    case XS_UNWATCH: return "UNWATCH";
    case XS_TRANSACTION_START: return "TRANSACTION_START";
    case XS_TRANSACTION_END: return "TRANSACTION_END";
    case XS_INTRODUCE: return "INTRODUCE";
    case XS_RELEASE: return "RELEASE";
    case XS_GET_DOMAIN_PATH: return "GET_DOMAIN_PATH";
    case XS_WRITE: return "WRITE";
    case XS_MKDIR: return "MKDIR";
    case XS_RM: return "RM";
    case XS_SET_PERMS: return "SET_PERMS";
    case XS_WATCH_EVENT: return "WATCH_EVENT";
    case XS_ERROR: return "ERROR";
    case XS_IS_DOMAIN_INTRODUCED: return "IS_DOMAIN_INTRODUCED";
    case XS_RESUME: return "RESUME";
    case XS_SET_TARGET: return "SET_TARGET";
    case XS_RESET_WATCHES: return "RESET_WATCHES";
    case XS_DIRECTORY_PART: return "DIRECTORY_PART";
    case XS_HV_ACT_AS: return "HV_ACT_AS";
    case XS_HV_WATCH_DEPTH: return "HV_WATCH_DEPTH";
    case XS_HV_OWN: return "HV_OWN";
    case XS_HV_DISOWN: return "HV_DISOWN";
    default: return "UNKNOWN";
    }
}
