#!/usr/bin/env bash
# Run HERE (the Debian development machine, with scripts/install-deps.sh done): download,
# without installing, the Debian packages that the GPU machine lacks, into .device-debs/
# (git-ignored; pass it to the device tool with carry=[".device-debs"]). The GPU machine has
# PyTorch (LibTorch), CMake, ninja, gcc and nvcc but no other libraries and no network.
# scripts/device-build.sh unpacks these there with `dpkg -x` into a prefix (never into /).
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.device-debs
rm -rf "$dest"
mkdir -p "$dest"
pkgs=(
  # headers-only
  libeigen3-dev nlohmann-json3-dev libcli11-dev libnanoflann-dev
  # the libraries rareforge links, with their headers and CMake files
  libfmt-dev libfmt9 libhdf5-dev libhdf5-103-1 libhdf5-cpp-103-1 libhdf5-hl-100
  libhdf5-hl-cpp-100 libsz2 libaec0 libaec-dev libxgboost-dev libxgboost0 xgboost libgtest-dev
  libgmock-dev libdmlc0 libdmlc-dev libsvm-dev libsvm3 libssl-dev libssl3
)
# What those libraries load in turn (HDF5 pulls in libcurl, which pulls in GnuTLS, Kerberos,
# LDAP...): every package that owns a library `ldd` lists, except the C and C++ runtimes that
# any machine with gcc has. The GPU machine runs another distribution, whose copies may be
# missing or carry other sonames.
libs=(libhdf5_serial.so.103 libhdf5_serial_hl.so.100 libhdf5_cpp.so.103 libxgboost.so.0
      libfmt.so.9 libsvm.so.3 libcrypto.so.3 libssl.so.3 libdmlc.so.0)
base='^(libc6|libgcc-s1|libstdc\+\+6|libgomp1|zlib1g)$'
mapfile -t deps < <(
  for l in "${libs[@]}"; do ldd "/usr/lib/x86_64-linux-gnu/$l" | awk '$3 ~ /^\// {print $3}'; done |
    sort -u | xargs -n1 readlink -f | xargs -n1 dpkg -S 2>/dev/null | cut -d: -f1 | sort -u |
    grep -Ev "$base")
pkgs+=("${deps[@]}" libcom-err2 libkeyutils1 libsasl2-modules-db libdb5.3)
cd "$dest"
apt-get download $(printf '%s\n' "${pkgs[@]}" | sort -u)
du -sh .
