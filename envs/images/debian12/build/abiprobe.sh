#!/bin/sh
# Build the kernel/userland ABI probe (abiprobe.c; the audit payload runs it) twice into
# /usr/local/bin: execbench-abiprobe32 (-m32, classic 32-bit ino_t/off_t: no
# _FILE_OFFSET_BITS=64, as 32-bit software of the SL6 era was built) and execbench-abiprobe64.
# Run by the image build as root; needs gcc-multilib (apt-packages.txt).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
gcc -m32 -O2 -Wall -Werror -o /usr/local/bin/execbench-abiprobe32 "$here/abiprobe.c"
gcc -O2 -Wall -Werror -march=x86-64 -o /usr/local/bin/execbench-abiprobe64 "$here/abiprobe.c"
# each really is the ABI it is named after
/usr/local/bin/execbench-abiprobe32 /usr/local/bin | head -n 1 | grep -q 'bits=32	ino_t=4	off_t=4	d_ino=4$'
/usr/local/bin/execbench-abiprobe64 /usr/local/bin | head -n 1 | grep -q 'bits=64	ino_t=8	off_t=8	d_ino=8$'
