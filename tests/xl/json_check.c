/* SPDX-License-Identifier: MIT */
/*
 * json_check FILE N: FILE (xl list -l) parses with json-c as an array of N
 * domain objects with the members and types xl.1 documents. Prints what is
 * wrong and exits 1; 0 if all is well.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int bad(const char *what, int i)
{
    fprintf(stderr, "json_check: domain %d: %s\n", i, what);
    return 1;
}

static int has(json_object *o, const char *key, json_type t)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, t);
}

static int check_domain(json_object *d, int i)
{
    static const char *const ints[] = {"domid", "vcpus", "vcpus_online", "cpu_time_ns",
                                       "monitor_pid", "start_time_ns", "exit_code"};
    static const char *const mem[] = {"bytes", "target", "max", "actual"};
    json_object *v;

    if (!json_object_is_type(d, json_type_object))
        return bad("not an object", i);
    for (size_t k = 0; k < sizeof(ints) / sizeof(ints[0]); k++)
        if (!has(d, ints[k], json_type_int))
            return bad(ints[k], i);
    if (!has(d, "name", json_type_string) || !has(d, "state", json_type_string))
        return bad("name/state", i);
    if (!json_object_object_get_ex(d, "uuid", &v) || !json_object_is_type(v, json_type_string) ||
        strlen(json_object_get_string(v)) != 36)
        return bad("uuid", i);
    if (!has(d, "cpu_time", json_type_double) && !has(d, "cpu_time", json_type_int))
        return bad("cpu_time", i);
    if (!json_object_object_get_ex(d, "memory", &v) || !json_object_is_type(v, json_type_object))
        return bad("memory", i);
    for (size_t k = 0; k < 4; k++)
        if (!has(v, mem[k], json_type_int))
            return bad(mem[k], i);
    json_object *bytes;
    json_object_object_get_ex(v, "bytes", &bytes);
    if (json_object_get_int64(bytes) != 8 << 20)
        return bad("memory.bytes is not 8 MiB", i);
    if (!json_object_object_get_ex(d, "config", &v) || !json_object_is_type(v, json_type_object) ||
        !has(v, "name", json_type_string) || !has(v, "kernel", json_type_string) ||
        !has(v, "memory", json_type_int))
        return bad("config", i);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: json_check FILE N\n");
        return 2;
    }
    json_object *root = json_object_from_file(argv[1]);
    if (!root) {
        fprintf(stderr, "json_check: %s: %s\n", argv[1], json_util_get_last_err());
        return 1;
    }
    int ret = 0;
    size_t n = (size_t)atoi(argv[2]);
    if (!json_object_is_type(root, json_type_array) || json_object_array_length(root) != n) {
        fprintf(stderr, "json_check: not an array of %zu\n", n);
        ret = 1;
    }
    for (size_t i = 0; !ret && i < n; i++)
        ret = check_domain(json_object_array_get_idx(root, i), (int)i);
    json_object_put(root);
    return ret;
}
