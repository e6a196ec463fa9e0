#!/bin/sh
# Build execbench-stream and execbench-stream-omp (a STREAM 5.10 variant, see stream.c's header) into /usr/local/bin.
# Run by the image build as root, from any directory; needs gcc + libc6-dev (apt-packages.txt).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
gcc -O2 -march=x86-64 -o /usr/local/bin/execbench-stream "$here/stream.c" -lm
/usr/local/bin/execbench-stream 100000 3 | grep -q '^Solution Validates'
# the same source with OpenMP: a multi-threaded copy (payload setting stream.threads)
gcc -O2 -march=x86-64 -fopenmp -o /usr/local/bin/execbench-stream-omp "$here/stream.c" -lm
OMP_NUM_THREADS=2 /usr/local/bin/execbench-stream-omp 100000 3 | grep -q '^Number of Threads counted = 2'
/usr/local/bin/execbench-stream-omp 100000 3 | grep -q '^Solution Validates'
