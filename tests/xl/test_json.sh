#!/bin/bash
# SPDX-License-Identifier: MIT
# xl list -l: JSON that json-c parses, with the documented members.
. "$(dirname "$0")/lib.sh"
start_store
cd "$T" || exit 1

"$XL" list -l >empty.json || fail "list -l with no domain"
"$CHECK" empty.json 0 || fail "empty list: $(cat empty.json)"
cfg a.cfg json-a sleep 'cmdline = "600000"' 'cpu_weight = 512' 'cap = 50'
cfg b.cfg json-b counter 'cmdline = "1000"'
"$XL" create -q a.cfg || fail "create a"
"$XL" create -q b.cfg || fail "create b"
"$XL" list -l >two.json || fail "list -l"
"$CHECK" two.json 2 || fail "$(cat two.json)"
grep -q '"cpu_weight": 512' two.json || fail "cpu_weight not recorded"
grep -q '"cap": 50' two.json || fail "cap not recorded"
"$XL" list -l json-b >one.json || fail "list -l json-b"
"$CHECK" one.json 1 || fail "$(cat one.json)"
grep -q '"name": "json-b"' one.json || fail "list -l json-b shows another domain"
exit 0
