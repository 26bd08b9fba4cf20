/* SPDX-License-Identifier: MIT */
/*
 * The hvstore command-line tool: what the command files share.
 *
 * Exit codes (docs/store.md): CLI_OK, CLI_FAILED when the store refused or
 * an I/O error happened, CLI_USAGE when the command line is wrong. Commands
 * report their own errors on stderr, prefixed "hvstore: ", and return one
 * of these codes.
 */
#ifndef HVSTORE_CLI_H
#define HVSTORE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <hv/hvstore.h>

enum { CLI_OK = 0, CLI_FAILED = 1, CLI_USAGE = 2 };

/* How often a command redoes a transaction that conflicted (-EAGAIN) with
 * concurrent writers before giving up; only a store under constant writes
 * to the same nodes gets near it. */
#define CLI_TX_ATTEMPTS 64

struct cli {
    hvs_t *h; /* NULL until cli_open() */
    const char *uri;
    long domid; /* -1: dom0, as opened */
    hvs_options_t opts;
};

/* Opens the store (and acts as -D's domain). Commands call it once their
 * arguments are known to be right, so usage errors never touch the store.
 * Returns CLI_OK or CLI_FAILED (reported). */
int cli_open(struct cli *cli);

/* A command: argv[0] is its name; getopt state is reset for it. */
typedef int (*cli_cmd_fn)(struct cli *cli, int argc, char **argv);

int cmd_read(struct cli *cli, int argc, char **argv);
int cmd_write(struct cli *cli, int argc, char **argv);
int cmd_ls(struct cli *cli, int argc, char **argv);
int cmd_rm(struct cli *cli, int argc, char **argv);
int cmd_mkdir(struct cli *cli, int argc, char **argv);
int cmd_watch(struct cli *cli, int argc, char **argv);
int cmd_chmod(struct cli *cli, int argc, char **argv);
int cmd_perms(struct cli *cli, int argc, char **argv);
int cmd_dump(struct cli *cli, int argc, char **argv);
int cmd_load(struct cli *cli, int argc, char **argv);

/*
 * "hvstore: OP PATH: strerror(-err)", followed by the library's message in
 * parentheses when it says more than strerror does. Returns CLI_FAILED.
 */
int cli_fail(struct cli *cli, int err, const char *op, const char *path);
/* "hvstore: FMT" on stderr; returns CLI_FAILED. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "hvstore: CMD: FMT" and a pointer to "hvstore help"; returns CLI_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Resets getopt for a command's own options (argv[0] is the command). The
 * option string should start with '+' so that values starting with '-'
 * after the first operand stay operands. */
void cli_getopt_reset(void);

/* Parses a decimal integer in [min, max]; false if s is not one. */
bool cli_parse_int(const char *s, long min, long max, long *out);

/*
 * Writes value bytes as xenstore-ls shows them: printable ASCII as is,
 * \t \n \r \\ \" escaped, every other byte as \xNN. Never truncates.
 */
void cli_print_escaped(FILE *f, const char *value, size_t len);

/* Flushes stdout; on a write error (full disk, closed pipe) says so and
 * returns CLI_FAILED, so that a truncated output never exits 0. */
int cli_finish_output(int rc);

/* ---- Encodings shared by dump and load (encode.c) ------------------------ */

/* True if the bytes are well-formed UTF-8 (no overlongs, no surrogates, at
 * most U+10FFFF): such values are dumped as JSON text. */
bool utf8_valid(const unsigned char *s, size_t len);
/* Standard base64 with padding; malloc'd, NUL-terminated; NULL on ENOMEM. */
char *b64_encode(const unsigned char *in, size_t len, size_t *outlen);
/* Strict: the alphabet of RFC 4648 section 4, padded, no whitespace, no
 * non-zero trailing bits. Returns 0 or -EINVAL; *out malloc'd (len + 1,
 * NUL-terminated). */
int b64_decode(const char *in, size_t len, unsigned char **out, size_t *outlen);

/* Path components as the engine accepts them: [A-Za-z0-9_@-]+. */
bool name_valid(const char *name, size_t len);

#endif
