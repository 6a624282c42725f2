#!/bin/bash
# the multi-row products' prefetch: distance 8 / 16 (the product) / 32 / 64 blocks, and the L2 (T1) and
# non-temporal (NTA) hints at 16, compared on the 30 layers' products in one process (prod_ab.py)
mkdir -p /tmp/s41 && cd /tmp/s41
SRC=/work/main/src/dspark/models/qkernels.c
cp $SRC base.c
for d in 8 32 64; do sed "s/#define PREFETCH_BLOCKS 16/#define PREFETCH_BLOCKS $d/" $SRC > pf$d.c; done
sed -e 's/__builtin_prefetch((const void \*)(w + i));/__builtin_prefetch((const void *)(w + i), 0, 2);/' \
    -e 's/sl \* scale_bytes(c->sform)));/sl * scale_bytes(c->sform)), 0, 2);/' \
    -e 's/sl \* low_bytes(c->sform)));/sl * low_bytes(c->sform)), 0, 2);/' $SRC > t1.c
sed 's/, 0, 2);/, 0, 0);/' t1.c > nta.c
grep -c ", 0, 2)" t1.c; grep -c ", 0, 0)" nta.c
cd /tmp && python /work/main/docs/results/session41/prod_ab.py /tmp/s41/base.c /tmp/s41/pf8.c /tmp/s41/pf32.c /tmp/s41/pf64.c /tmp/s41/t1.c /tmp/s41/nta.c
