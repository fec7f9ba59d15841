#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""exports_test.py LIBEKV_SO EKV_H — libekv.so exports exactly the functions
declared in ekv.h, plus its version node(s), and nothing else
(`nm -D --defined-only`)."""
import re
import subprocess
import sys

so, header = sys.argv[1], sys.argv[2]
src = open(header).read()
src = re.sub(r'/\*.*?\*/', ' ', src, flags=re.S)
src = re.sub(r'//[^\n]*', ' ', src)
src = re.sub(r'(?m)^\s*#.*$', ' ', src)  # preprocessor lines (macros with arguments)
# a function declaration: a name followed by "(" that is not a function
# pointer "(*name)(" nor a call inside a macro
declared = set(re.findall(r'(?<!\(\*)(?<![\w])(ekv_\w+)\s*\(', src))
unmarked = [n for n in sorted(declared)
            if not re.search(r'EKV_API\b[^;{]*?\b' + n + r'\s*\(', src)]

out = subprocess.run(['nm', '-D', '--defined-only', so], check=True, capture_output=True,
                     text=True).stdout
exported, versions = set(), set()
for line in out.splitlines():
    parts = line.split()
    if len(parts) < 3:
        continue
    kind, name = parts[1], parts[2].split('@')[0]
    (versions if kind == 'A' else exported).add(name)

ok = True
if unmarked:
    print('declared in ekv.h without EKV_API:', ' '.join(unmarked))
    ok = False
if not declared:
    print('no function found in', header)
    ok = False
for n in sorted(exported - declared):
    print('exported but not declared in ekv.h:', n)
    ok = False
for n in sorted(declared - exported):
    print('declared in ekv.h but not exported:', n)
    ok = False
if versions != {'EKV_0'}:
    print('version nodes:', sorted(versions), 'want: EKV_0')
    ok = False
print('%d functions of ekv.h exported, version node(s) %s: %s'
      % (len(declared & exported), ' '.join(sorted(versions)), 'ok' if ok else 'FAIL'))
sys.exit(0 if ok else 1)
