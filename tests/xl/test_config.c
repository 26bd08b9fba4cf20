/* SPDX-License-Identifier: MIT */
/*
 * The xl.cfg parser: a full file with every key, the defaults, command-line
 * overrides, and malformed files, each of which must fail with -EINVAL and a
 * message naming the file, the right line and the key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "config.h"

#define F "guest.cfg"
/* Two valid lines that make finish pass, for files that break elsewhere. */
#define BASE "name = \"g\"\nkernel = \"/k\"\n"

static int parse(struct xl_config *c, const char *text, char *err,
                 size_t errlen)
{
    return xl_config_parse(c, text, strlen(text), F, err, errlen);
}

static void test_full(void **state)
{
    (void)state;
    static const char text[] =
        "# A guest with every key\n"
        "\n"
        "name = \"web-1.test_x\"   # trailing comment\n"
        "uuid = '6b1f6a9e-3c2d-4e5f-8a9b-0c1d2e3f4a5b'\n"
        "memory=512\n"
        "maxmem = 1024\n"
        "\tvcpus = 2\n"
        "maxvcpus = 4\n"
        "cpus = [ \"0-1\",   # first two\n"
        "         '3',\n"
        "         5,\n"
        "]\n"
        "cpu_weight = 512\n"
        "cap = 150\n"
        "kernel = '/boot/guest # not a comment'\n"
        "cmdline = \"console=hvc0 say=\\\"hi\\\" back\\\\slash\\tt\\nn\"\n"
        "on_poweroff = \"preserve\"\n"
        "on_reboot = \"rename-restart\"; on_crash = 'restart'\n";
    struct xl_config c;
    char err[256] = "";
    uuid_t want;

    assert_int_equal(uuid_parse("6b1f6a9e-3c2d-4e5f-8a9b-0c1d2e3f4a5b",
                                want), 0);
    int r = parse(&c, text, err, sizeof(err));
    if (r)
        print_message("%s\n", err);
    assert_int_equal(r, 0);
    assert_int_equal(xl_config_finish(&c, F, err, sizeof(err)), 0);
    assert_string_equal(c.name, "web-1.test_x");
    assert_true(c.has_uuid);
    assert_memory_equal(c.uuid, want, 16);
    assert_int_equal(c.memory_mb, 512);
    assert_int_equal(c.maxmem_mb, 1024);
    assert_int_equal(c.vcpus, 2);
    assert_int_equal(c.maxvcpus, 4);
    assert_string_equal(c.cpus, "0-1,3,5");
    assert_int_equal(c.cpu_weight, 512);
    assert_int_equal(c.cap, 150);
    assert_string_equal(c.kernel, "/boot/guest # not a comment");
    assert_string_equal(c.cmdline,
                        "console=hvc0 say=\"hi\" back\\slash\tt\nn");
    assert_int_equal(c.on_poweroff, XL_ACTION_PRESERVE);
    assert_int_equal(c.on_reboot, XL_ACTION_RENAME_RESTART);
    assert_int_equal(c.on_crash, XL_ACTION_RESTART);
    assert_string_equal(xl_action_name(c.on_reboot), "rename-restart");
    xl_config_free(&c);
    assert_null(c.name);
    xl_config_free(NULL);
}

static void test_defaults(void **state)
{
    (void)state;
    struct xl_config c;
    char err[256] = "";

    /* No final newline, CRLF line ends, a string cpus. */
    static const char text[] = "name='d'\r\nkernel=\"/k\"\r\ncpus=\"7\"";
    assert_int_equal(xl_config_parse(&c, text, strlen(text), F, err,
                                     sizeof(err)), 0);
    assert_int_equal(xl_config_finish(&c, F, err, sizeof(err)), 0);
    assert_string_equal(c.name, "d");
    assert_false(c.has_uuid);
    assert_int_equal(c.memory_mb, XL_CONFIG_DEFAULT_MEMORY_MB);
    assert_int_equal(c.maxmem_mb, XL_CONFIG_DEFAULT_MEMORY_MB);
    assert_int_equal(c.vcpus, 1);
    assert_int_equal(c.maxvcpus, 1);
    assert_string_equal(c.cpus, "7");
    assert_int_equal(c.cpu_weight, 256);
    assert_int_equal(c.cap, 0);
    assert_null(c.cmdline);
    assert_int_equal(c.on_poweroff, XL_ACTION_DESTROY);
    assert_int_equal(c.on_reboot, XL_ACTION_RESTART);
    assert_int_equal(c.on_crash, XL_ACTION_DESTROY);
    xl_config_free(&c);

    /* Text need not be NUL-terminated: the length is what counts. */
    static const char cut[] = BASE "memory = 64XXX";
    assert_int_equal(xl_config_parse(&c, cut, sizeof(BASE) - 1 + 11, F, err,
                                     sizeof(err)), 0);
    assert_int_equal(c.memory_mb, 64);
    xl_config_free(&c);

    /* An empty file parses (finish then wants name and kernel). */
    assert_int_equal(xl_config_parse(&c, "", 0, F, err, sizeof(err)), 0);
    assert_int_equal(xl_config_parse(&c, NULL, 0, F, err, sizeof(err)), 0);
    xl_config_free(&c);
}

static void test_override(void **state)
{
    (void)state;
    struct xl_config c;
    char err[256] = "";

    assert_int_equal(parse(&c, "name = 'a'\nmemory = 256\nmaxmem = 512\n"
                               "cpus = '0'\n", err, sizeof(err)), 0);
    /* Replacing values from the file, adding keys, a list. */
    assert_int_equal(xl_config_override(&c, "name=\"b\"", err, sizeof(err)), 0);
    assert_int_equal(xl_config_override(&c, "memory = 1024", err,
                                        sizeof(err)), 0);
    assert_int_equal(xl_config_override(&c, "maxmem=2048", err,
                                        sizeof(err)), 0);
    assert_int_equal(xl_config_override(&c, "kernel='/boot/k'", err,
                                        sizeof(err)), 0);
    assert_int_equal(xl_config_override(&c, "cpus=['1-2', 4]", err,
                                        sizeof(err)), 0);
    assert_int_equal(xl_config_override(&c, "vcpus=3", err, sizeof(err)), 0);
    /* The same key twice on the command line: the last one wins. */
    assert_int_equal(xl_config_override(&c, "vcpus=2", err, sizeof(err)), 0);
    assert_string_equal(c.name, "b");
    assert_string_equal(c.kernel, "/boot/k");
    assert_string_equal(c.cpus, "1-2,4");
    assert_int_equal(c.memory_mb, 1024);

    /* Bad overrides fail, name "command line" and the key, and change
     * nothing. */
    static const struct {
        const char *kv, *key;
    } bad[] = {
        {"memory=abc", "memory"},
        {"memory=\"1x\"", "memory"},
        {"vcpus=0", "vcpus"},
        {"name=\"a b\"", "name"},
        {"colour=1", "colour"},
        {"memory", "memory"},
        {"memory=1 vcpus=2", ""},
        {"memory=1; vcpus=2", "one KEY=VALUE"},
        {"memory=1\nvcpus=2", "one KEY=VALUE"},
        {"name='unterminated", "name"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(xl_config_override(&c, bad[i].kv, err, sizeof(err)),
                         -EINVAL);
        print_message("  %-22s -> %s\n", bad[i].kv, err);
        assert_non_null(strstr(err, "command line"));
        assert_non_null(strstr(err, bad[i].key));
    }
    char *huge = malloc(XL_CONFIG_MAX_LINE + 64);
    assert_non_null(huge);
    strcpy(huge, "cmdline='");
    memset(huge + 9, 'z', XL_CONFIG_MAX_LINE);
    strcpy(huge + 9 + XL_CONFIG_MAX_LINE, "'");
    assert_int_equal(xl_config_override(&c, huge, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "command line"));
    assert_non_null(strstr(err, "longer than 8192"));
    free(huge);
    assert_string_equal(c.name, "b");
    assert_int_equal(c.memory_mb, 1024);
    assert_int_equal(c.vcpus, 2);

    assert_int_equal(xl_config_finish(&c, F, err, sizeof(err)), 0);
    assert_int_equal(c.maxmem_mb, 2048);
    assert_int_equal(c.maxvcpus, 2);

    /* A cross-key error caused by an override names the command line. */
    assert_int_equal(xl_config_override(&c, "maxmem=100", err, sizeof(err)),
                     0);
    assert_int_equal(xl_config_finish(&c, F, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "command line"));
    assert_non_null(strstr(err, "maxmem"));
    xl_config_free(&c);

    /* Without maxmem, finish makes it follow an overridden memory. */
    assert_int_equal(parse(&c, BASE "memory = 64\n", err, sizeof(err)), 0);
    assert_int_equal(xl_config_override(&c, "memory=96", err, sizeof(err)), 0);
    assert_int_equal(xl_config_finish(&c, F, err, sizeof(err)), 0);
    assert_int_equal(c.maxmem_mb, 96);
    xl_config_free(&c);
}

/* text fails (in parse, or else in finish) with -EINVAL and a message that
 * starts with prefix ("guest.cfg:7:") and holds key and what. */
static void fails(const char *text, size_t len, const char *prefix,
                  const char *key, const char *what)
{
    struct xl_config c;
    char err[512] = "";
    int r = xl_config_parse(&c, text, len, F, err, sizeof(err));
    if (r == 0) {
        r = xl_config_finish(&c, F, err, sizeof(err));
        xl_config_free(&c);
    }
    print_message("  %s\n", err);
    assert_int_equal(r, -EINVAL);
    assert_true(strncmp(err, prefix, strlen(prefix)) == 0);
    assert_non_null(strstr(err, key));
    if (what)
        assert_non_null(strstr(err, what));
    xl_config_free(&c);
}

#define FAILS(text, prefix, key, what) \
    fails(text, strlen(text), prefix, key, what)

static void test_syntax_errors(void **state)
{
    (void)state;
    FAILS(BASE "cmdline = \"abc\n", F ":3:11:", "cmdline",
          "unterminated string");
    FAILS(BASE "cmdline = 'abc", F ":3:11:", "cmdline", "unterminated string");
    FAILS(BASE "cmdline = 'abc\ndef'\n", F ":3:11:", "cmdline",
          "unterminated string");
    FAILS(BASE "cmdline = \"abc\n\"\n", F ":3:11:", "cmdline",
          "unterminated string");
    FAILS(BASE "cmdline = \"abc\\", F ":3:11:", "cmdline", "unterminated");
    FAILS(BASE "cpus = [ '1',\n '2'\n\n", F ":3:8:", "cpus",
          "unterminated list");
    FAILS(BASE "cpus = [ '1',\n", F ":3:8:", "cpus", "unterminated list");
    FAILS(BASE "cpus = [ '1' '2' ]\n", F ":3:14:", "cpus", "expected ','");
    FAILS(BASE "cpus = [ ['1'] ]\n", F ":3:10:", "cpus", "nested");
    FAILS(BASE "cpus = [ '1',, ]\n", F ":3:14:", "cpus", "empty list item");
    FAILS(BASE "memory 512\n", F ":3:8:", "memory", "expected '='");
    FAILS(BASE "memory\n", F ":3:7:", "memory", "expected '='");
    FAILS(BASE "memory =\n", F ":3:9:", "memory", "missing value");
    FAILS(BASE "memory = # none\n", F ":3:10:", "memory", "missing value");
    FAILS(BASE "memory = 512 64\n", F ":3:14:", "memory", "after the value");
    FAILS(BASE "= 5\n", F ":3:1:", "", "expected a key");
    FAILS(BASE "cmdline = \"a\\qb\"\n", F ":3:13:", "cmdline",
          "unknown escape");
    FAILS(BASE "memory = {512}\n", F ":3:10:", "memory", "unexpected '{'");
}

static void test_key_errors(void **state)
{
    (void)state;
    FAILS(BASE "\n# c\ncolour = 'red'\n", F ":5:", "colour", "unknown key");
    FAILS(BASE "memory = 64\nvcpus = 1\nmemory = 128\n", F ":5:", "memory",
          "twice");
    FAILS("name='a'\nname='a'\n", F ":2:", "name", "twice");
    FAILS(BASE "memory = \"abc\"\n", F ":3:", "memory",
          "\"abc\" is not a number");
    FAILS(BASE "memory = abc\n", F ":3:", "memory", "not a number");
    FAILS(BASE "memory = 12.5\n", F ":3:", "memory", "not a number");
    FAILS(BASE "memory = 0x10\n", F ":3:", "memory", "not a number");
    FAILS(BASE "memory = ''\n", F ":3:", "memory", "not a number");
    FAILS(BASE "memory = [ 1 ]\n", F ":3:", "memory", "not a list");
    FAILS(BASE "memory = []\n", F ":3:", "memory", "not a list");
    FAILS(BASE "name2 = [\n]\n", F ":3:", "name2", "unknown key");
    FAILS(BASE "memory = 99999999999999999999\n", F ":3:", "memory",
          "out of range");
    FAILS(BASE "memory = 18446744073709551615\n", F ":3:", "memory",
          "out of range");
    /* 2^64 + 5 and 2^64 * 10 + 5, which wrap to 5 */
    FAILS(BASE "memory = 18446744073709551621\n", F ":3:", "memory",
          "out of range");
    FAILS(BASE "cap = 184467440737095516165\n", F ":3:", "cap",
          "out of range");
    FAILS(BASE "memory = 17592186044416\n", F ":3:", "memory",
          "out of range");
    FAILS(BASE "memory = 0\n", F ":3:", "memory", "out of range");
    FAILS(BASE "memory = -5\n", F ":3:", "memory", "negative");
    FAILS(BASE "cap = -1\n", F ":3:", "cap", "negative");
    FAILS(BASE "cap = 4294967296\n", F ":3:", "cap", "out of range");
    FAILS(BASE "vcpus = 0\n", F ":3:", "vcpus", "out of range");
    FAILS(BASE "vcpus = 129\n", F ":3:", "vcpus", "out of range");
    FAILS(BASE "maxvcpus = 200\n", F ":3:", "maxvcpus", "out of range");
    FAILS(BASE "cpu_weight = 0\n", F ":3:", "cpu_weight", "out of range");
    FAILS(BASE "cpu_weight = 65536\n", F ":3:", "cpu_weight", "out of range");
    FAILS(BASE "vcpus = 4\nmaxvcpus = 2\n", F ":4:", "maxvcpus",
          "less than vcpus");
    FAILS(BASE "maxmem = 128\nmemory = 256\n", F ":3:", "maxmem",
          "less than memory");
    FAILS(BASE "uuid = 'not-a-uuid'\n", F ":3:", "uuid", "not a UUID");
    FAILS(BASE "uuid = '6b1f6a9e-3c2d-4e5f-8a9b-0c1d2e3f4a5'\n", F ":3:",
          "uuid", "not a UUID");
    FAILS(BASE "on_crash = 'explode'\n", F ":3:", "on_crash",
          "\"explode\" is not one of");
    FAILS(BASE "on_crash = destroy\n", F ":3:", "on_crash",
          "expected a quoted string");
    FAILS(BASE "on_reboot = 'Restart'\n", F ":3:", "on_reboot", "not one of");
    FAILS(BASE "on_poweroff = ['destroy']\n", F ":3:", "on_poweroff",
          "not a list");
    static const char *const bad_cpus[] = {
        "'0-'", "'-1'", "'3-1'", "'a'", "'1,,2'", "''", "'1,'", "' 1'",
        "'1-2-3'", "'99999999999'", "[ '0', 'x' ]", "[]", "'0;1'",
    };
    for (size_t i = 0; i < sizeof(bad_cpus) / sizeof(bad_cpus[0]); i++) {
        char text[128];
        snprintf(text, sizeof(text), BASE "\ncpus = %s\n", bad_cpus[i]);
        FAILS(text, F ":4:", "cpus", NULL);
    }
    FAILS("kernel='/k'\nname = 'a b'\n", F ":2:", "name", "character");
    FAILS("kernel='/k'\nname = 'a/b'\n", F ":2:", "name", "character");
    FAILS("kernel='/k'\nname = ''\n", F ":2:", "name", "empty");
    FAILS("kernel='/k'\nname = '123'\n", F ":2:", "name", "domain id");
    FAILS("kernel='/k'\nname = guest\n", F ":2:", "name", "quoted string");
    FAILS("kernel='/k'\nname = "
          "'a12345678901234567890123456789012345678901234567890123456789"
          "01234'\n", F ":2:", "name", "longer than 64");
    FAILS("name='a'\nkernel = ''\n", F ":2:", "kernel", "empty");

    /* 64 characters is fine. */
    struct xl_config c;
    char err[256], text[128];
    snprintf(text, sizeof(text), "name='%s'", "a123456789012345678901234567"
             "890123456789012345678901234567890123");
    assert_int_equal(parse(&c, text, err, sizeof(err)), 0);
    assert_int_equal(strlen(c.name), 64);
    xl_config_free(&c);
}

static void test_finish_errors(void **state)
{
    (void)state;
    FAILS("# nothing but\nkernel = '/k'\n", F ": ", "name", "required");
    FAILS("name = 'a'\n", F ": ", "kernel", "required");
    FAILS("", F ": ", "name", "required");
}

static void test_limits(void **state)
{
    (void)state;
    /* A NUL byte anywhere, even in a comment. */
    static const char nul[] = BASE "memory = 5\0 12\n";
    fails(nul, sizeof(nul) - 1, F ":3:11:", "NUL", NULL);
    static const char nul2[] = BASE "# \0\n";
    fails(nul2, sizeof(nul2) - 1, F ":3:3:", "NUL", NULL);

    /* A 1 MiB line. */
    size_t big = 1u << 20;
    char *t = malloc(big + 64);
    assert_non_null(t);
    strcpy(t, BASE "cmdline = \"");
    size_t o = strlen(t);
    memset(t + o, 'x', big);
    strcpy(t + o + big, "\"\n");
    fails(t, strlen(t), F ":3:", "line longer than", NULL);

    /* A string of 4097 bytes within the line limit; 4096 is fine. */
    strcpy(t, BASE "cmdline = \"");
    o = strlen(t);
    memset(t + o, 'y', XL_CONFIG_MAX_STRING + 1);
    strcpy(t + o + XL_CONFIG_MAX_STRING + 1, "\"\n");
    fails(t, strlen(t), F ":3:", "cmdline", "string longer than 4096");
    strcpy(t + o + XL_CONFIG_MAX_STRING, "\"\n");
    struct xl_config c;
    char err[256];
    assert_int_equal(parse(&c, t, err, sizeof(err)), 0);
    assert_int_equal(strlen(c.cmdline), XL_CONFIG_MAX_STRING);
    xl_config_free(&c);

    /* A list of 257 items, over many lines; 256 is fine. */
    strcpy(t, BASE "cpus = [\n");
    for (int i = 0; i < 257; i++)
        sprintf(t + strlen(t), "%d,\n", i);
    strcat(t, "]\n");
    fails(t, strlen(t), F ":260:", "cpus", "list longer than 256");
    strcpy(t, BASE "cpus = [\n");
    for (int i = 0; i < 256; i++)
        sprintf(t + strlen(t), "%d,\n", i);
    strcat(t, "]\n");
    assert_int_equal(parse(&c, t, err, sizeof(err)), 0);
    xl_config_free(&c);

    /* A long key. */
    free(t);
    char longkey[128];
    memset(longkey, 'k', 100);
    memcpy(longkey + 100, " = 1\n", 6);
    fails(longkey, strlen(longkey), F ":1:1:", "key longer", NULL);

    /* A tiny or absent error buffer truncates the message, never more. */
    assert_int_equal(parse(&c, "memory = x", err, 8), -EINVAL);
    assert_int_equal(strlen(err), 7);
    assert_int_equal(parse(&c, "memory = x", NULL, 0), -EINVAL);
}

static void test_load(void **state)
{
    (void)state;
    char path[] = "/tmp/xl-config-test-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static const char text[] = "name = 'loaded'\nkernel = '/k'\nmemory = 77\n"
                               "vcpus = 'x'\n";
    assert_int_equal(write(fd, text, sizeof(text) - 1), sizeof(text) - 1);
    close(fd);

    struct xl_config c;
    char err[512] = "";
    assert_int_equal(xl_config_load(&c, path, err, sizeof(err)), -EINVAL);
    print_message("  %s\n", err);
    char want[300];
    snprintf(want, sizeof(want), "%s:4: vcpus: \"x\" is not a number", path);
    assert_string_equal(err, want);
    xl_config_free(&c);

    /* Rewrite without the bad line. */
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, sizeof(text) - 13), sizeof(text) - 13);
    close(fd);
    assert_int_equal(xl_config_load(&c, path, err, sizeof(err)), 0);
    assert_int_equal(xl_config_finish(&c, path, err, sizeof(err)), 0);
    assert_string_equal(c.name, "loaded");
    assert_int_equal(c.memory_mb, 77);
    xl_config_free(&c);
    unlink(path);

    assert_int_equal(xl_config_load(&c, path, err, sizeof(err)), -ENOENT);
    print_message("  %s\n", err);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, strerror(ENOENT)));
    xl_config_free(&c);

    assert_int_equal(xl_config_load(&c, "/tmp", err, sizeof(err)), -EISDIR);
    assert_non_null(strstr(err, "/tmp"));
    xl_config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_override),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_key_errors),
        cmocka_unit_test(test_finish_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
