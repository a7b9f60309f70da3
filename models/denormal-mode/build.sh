#!/bin/sh
# Rebuilds denormal_mode.linux-x64.node from denormal_mode.c. Needs gcc (or
# clang) and Node's headers (node_api.h: Debian's libnode-dev, or the include/
# folder of a Node tarball; NODE_INCLUDE overrides). The .node is committed,
# so installs and tests need no compiler; on other platforms the engine
# works without it (see ../denormal-mode.ts).
set -e
cd "$(dirname "$0")"
CC="${CC:-cc}"
NODE_INCLUDE="${NODE_INCLUDE:-$(dirname "$(dirname "$(command -v node)")")/include/node}"
"$CC" -O2 -shared -fPIC -nostdlib -msse2 -Wall -Wextra -Werror -I"$NODE_INCLUDE" \
  -Wl,--build-id=none -Wl,-s -o denormal_mode.linux-x64.node denormal_mode.c
# The source this binary was built from and the binary itself, checked by the
# tests (an edited .c with a stale .node fails them).
sha256sum denormal_mode.c denormal_mode.linux-x64.node | cut -d' ' -f1 > denormal_mode.sha256
