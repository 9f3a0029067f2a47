#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Writes common/fuzz-map-corpus: for each key kind and key count of
# fuzz-map.c, a sequence of operations in phases (inserts, a mix, mostly
# removals and lookups), so the corpus run grows, churns and empties every
# kind of map. Deterministic: rerunning it writes the same files.
import os
import random

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, 'fuzz-map-corpus')
os.makedirs(out, exist_ok=True)
names = ['u64', 'bytes', 'weak', 'pair', 'wide']   # fuzz-map.c's enum kind
counts = [8, 64, 300, 1024]                        # its key counts
rnd = random.Random(7)
for kind, name in enumerate(names):
    for k, count in enumerate(counts):
        ops = bytearray([kind + len(names) * k])
        for i in range(150 if k < 2 else 600):
            phase = (i // 100) % 3
            if phase == 0:
                op = rnd.randrange(0, 5)            # inserts
            elif phase == 1:
                op = rnd.randrange(0, 14)           # everything but reserve, clear
            else:
                op = rnd.choice([8, 9, 10, 11, 12, 5, 6, 7, 13, 14])
            if rnd.random() < 0.01:
                op = 15                             # clear or fini
            arg = rnd.randrange(65536)
            ops += bytes([op, arg & 0xff, arg >> 8])
        with open(os.path.join(out, f'{name}-keys{count}'), 'wb') as f:
            f.write(ops)
