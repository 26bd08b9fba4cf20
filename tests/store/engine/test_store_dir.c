/* SPDX-License-Identifier: MIT */
/*
 * Directory listings, whole and in pieces: a directory far larger than one
 * reply (2000 children with names of uneven, long lengths) comes back in
 * DIRECTORY_PART pieces that each fit in a reply and reassemble to exactly
 * hvs_directory()'s result; the generation tells a changed directory.
 */
#include "store_test.h"

#include <stdio.h>
#include <stdlib.h>

#define NCHILD 2000

struct fx {
    char uri[64];
    hvs_t *h;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    st_mem_uri(f->uri, sizeof(f->uri));
    f->h = st_open(f->uri, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    hvs_close(f->h);
    free(f);
    return 0;
}

/* Child i: "c<i>-" then a pad of 0..239 bytes, so piece boundaries fall
 * anywhere. */
static void child_name(int i, char *buf, size_t len)
{
    int n = snprintf(buf, len, "c%d-", i);
    int pad = (i * 37) % 240;
    for (int k = 0; k < pad && (size_t)(n + k) < len - 1; k++)
        buf[n + k] = (char)('a' + (i + k) % 26);
    buf[n + pad] = 0;
}

static void make_children(hvs_t *h, const char *dir, int count)
{
    char path[512], name[300];
    for (int i = 0; i < count; i++) {
        child_name(i, name, sizeof(name));
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        st_rc(h, hvs_mkdir(h, HVS_TX_NONE, path), 0);
    }
}

struct listing {
    char **names;
    int n, cap;
    int pieces;
    uint64_t gen;
};

static void listing_free(struct listing *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
    memset(l, 0, sizeof(*l));
}

/* Reads the directory piece by piece, checking each piece as it comes. */
static void read_pieces(hvs_t *h, hvs_tx_t tx, const char *path, struct listing *l)
{
    uint32_t offset = 0;
    int done = 0;
    memset(l, 0, sizeof(*l));
    while (!done) {
        char **names = NULL;
        uint64_t gen = 0;
        int n = hvs_directory_part(h, tx, path, offset, &names, &gen, &done);
        if (n < 0)
            fail_msg("directory_part %s at %u: %d: %s", path, offset, n, hvs_last_error(h));
        assert_non_null(names);
        assert_null(names[n]);
        if (l->pieces == 0)
            l->gen = gen;
        else if (gen != l->gen)
            fail_msg("generation changed from %llu to %llu with nothing written",
                     (unsigned long long)l->gen, (unsigned long long)gen);
        if (n == 0 && !done)
            fail_msg("an empty piece at offset %u that does not end the listing", offset);
        size_t bytes = 0;
        for (int i = 0; i < n; i++) {
            bytes += strlen(names[i]) + 1;
            if (l->n == l->cap) {
                l->cap = l->cap ? 2 * l->cap : 256;
                l->names = realloc(l->names, (size_t)l->cap * sizeof(*l->names));
                assert_non_null(l->names);
            }
            l->names[l->n++] = strdup(names[i]);
        }
        if (bytes > HVS_PAYLOAD_MAX)
            fail_msg("a piece of %zu bytes of names: more than one reply holds", bytes);
        hvs_list_free(names);
        offset += (uint32_t)bytes;
        l->pieces++;
        if (l->pieces > NCHILD * 2)
            fail_msg("directory_part never set done");
    }
}

static void test_pieces_reassemble(void **state)
{
    struct fx *f = *state;
    make_children(f->h, "/big", NCHILD);

    char **all = NULL;
    int n = hvs_directory(f->h, HVS_TX_NONE, "/big", &all);
    assert_int_equal(n, NCHILD);
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += strlen(all[i]) + 1;
    assert_true(total > 50 * HVS_PAYLOAD_MAX);

    struct listing l;
    read_pieces(f->h, HVS_TX_NONE, "/big", &l);
    /* Same names, in the same order, each once. */
    assert_int_equal(l.n, n);
    for (int i = 0; i < n; i++)
        if (strcmp(l.names[i], all[i]) != 0)
            fail_msg("piecewise name %d \"%.40s\" != whole listing's \"%.40s\"", i, l.names[i],
                     all[i]);
    assert_true(l.pieces > (int)(total / HVS_PAYLOAD_MAX));
    /* Every child is there. */
    char name[300];
    for (int i = 0; i < NCHILD; i++) {
        child_name(i, name, sizeof(name));
        int found = 0;
        for (int k = 0; k < n && !found; k++)
            found = strcmp(all[k], name) == 0;
        if (!found)
            fail_msg("child %d missing", i);
    }
    hvs_list_free(all);

    /* Unchanged: the same generation again. */
    struct listing again;
    read_pieces(f->h, HVS_TX_NONE, "/big", &again);
    assert_true(again.gen == l.gen);
    assert_int_equal(again.n, l.n);
    listing_free(&again);
    listing_free(&l);
}

/* A change between pieces shows as a new generation. */
static void test_generation_changes(void **state)
{
    struct fx *f = *state;
    make_children(f->h, "/g", 300);
    char **names = NULL;
    uint64_t gen0, gen1, gen2;
    int done = 0;
    int n = hvs_directory_part(f->h, HVS_TX_NONE, "/g", 0, &names, &gen0, &done);
    assert_true(n > 0);
    assert_int_equal(done, 0);
    size_t off = 0;
    for (int i = 0; i < n; i++)
        off += strlen(names[i]) + 1;
    hvs_list_free(names);

    st_rc(f->h, hvs_mkdir(f->h, HVS_TX_NONE, "/g/added"), 0);
    n = hvs_directory_part(f->h, HVS_TX_NONE, "/g", (uint32_t)off, &names, &gen1, &done);
    assert_true(n >= 0);
    hvs_list_free(names);
    assert_true(gen1 != gen0);

    st_rc(f->h, hvs_rm(f->h, HVS_TX_NONE, "/g/added"), 0);
    n = hvs_directory_part(f->h, HVS_TX_NONE, "/g", 0, &names, &gen2, &done);
    assert_true(n > 0);
    hvs_list_free(names);
    assert_true(gen2 != gen1 && gen2 != gen0);

    /* And the whole listing is right after the churn. */
    struct listing l;
    read_pieces(f->h, HVS_TX_NONE, "/g", &l);
    assert_int_equal(l.n, 300);
    listing_free(&l);
}

static void test_small_and_empty(void **state)
{
    struct fx *f = *state;
    char **names = NULL;
    uint64_t gen;
    int done = 0;
    st_rc(f->h, hvs_mkdir(f->h, HVS_TX_NONE, "/empty"), 0);
    st_rc(f->h, hvs_directory_part(f->h, HVS_TX_NONE, "/empty", 0, &names, &gen, &done), 0);
    assert_int_equal(done, 1);
    assert_non_null(names);
    assert_null(names[0]);
    hvs_list_free(names);
    names = NULL;
    st_rc(f->h, hvs_directory(f->h, HVS_TX_NONE, "/empty", &names), 0);
    assert_null(names[0]);
    hvs_list_free(names);

    make_children(f->h, "/small", 3);
    done = 0;
    names = NULL;
    st_rc(f->h, hvs_directory_part(f->h, HVS_TX_NONE, "/small", 0, &names, &gen, &done), 3);
    assert_int_equal(done, 1);
    hvs_list_free(names);

    names = NULL;
    st_rc(f->h, hvs_directory_part(f->h, HVS_TX_NONE, "/missing", 0, &names, &gen, &done),
          -ENOENT);
    assert_null(names);
    st_rc(f->h, hvs_directory(f->h, HVS_TX_NONE, "/missing", &names), -ENOENT);
    assert_null(names);
    hvs_list_free(NULL);
}

/* Removing a large subtree leaves nothing of it behind. */
static void test_rm_large(void **state)
{
    struct fx *f = *state;
    make_children(f->h, "/rm/big", NCHILD);
    st_write(f->h, HVS_TX_NONE, "/rm/keep", "k");
    st_rc(f->h, hvs_rm(f->h, HVS_TX_NONE, "/rm/big"), 0);
    st_expect_dir(f->h, HVS_TX_NONE, "/rm", "keep");
    char name[300], path[512];
    child_name(7, name, sizeof(name));
    snprintf(path, sizeof(path), "/rm/big/%s", name);
    assert_int_equal(st_exists(f->h, HVS_TX_NONE, path), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pieces_reassemble, setup, teardown),
        cmocka_unit_test_setup_teardown(test_generation_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_small_and_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rm_large, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
