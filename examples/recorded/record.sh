#!/usr/bin/env bash
# Makes the recordings of this folder again (README, "Recording real
# programs"): needs Valgrind and a C compiler. The exact command of each is
# in its header.
set -euo pipefail
cd "$(dirname "$0")"
mmutrace="node ../../bin/mmutrace.js"
cc -O1 -static -o pages pages.c
$mmutrace record --out pages.mmutrace.gz -- ./pages
$mmutrace record --out seq.mmutrace.gz -- seq 3
rm -f pages
