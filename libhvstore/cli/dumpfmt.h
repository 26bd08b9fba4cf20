/* SPDX-License-Identifier: MIT */
/*
 * The dump format (docs/store.md, "Dump format"), written by dump.c and read
 * by load.c:
 *
 *   {"hvstore_dump": 1, "path": "/abs/path", "node": NODE}
 *   NODE = {"value": "text" | "value_b64": "base64",
 *           "perms": ["b0", "r5"],
 *           "children": {"name": NODE, ...}}
 *
 * "value" holds values that are valid UTF-8, "value_b64" every other value,
 * so any bytes survive. On load, a missing value is "", missing perms leave
 * the node's permissions to the store (inherited on creation), a missing
 * "children" means none.
 */
#ifndef HVSTORE_CLI_DUMPFMT_H
#define HVSTORE_CLI_DUMPFMT_H

#define DUMP_KEY_FORMAT "hvstore_dump"
#define DUMP_FORMAT_VERSION 1
#define DUMP_KEY_PATH "path"
#define DUMP_KEY_NODE "node"
#define DUMP_KEY_VALUE "value"
#define DUMP_KEY_VALUE_B64 "value_b64"
#define DUMP_KEY_PERMS "perms"
#define DUMP_KEY_CHILDREN "children"

#endif
