#!/usr/bin/env bash
# ehu's validation suite: every frame of ehu against glibc backtrace() over
# thousands of random, deep, threaded, signal-interrupted and dlopen/dlclose
# stacks (ehu_validate.c).  Prints "EHU validate stacks=N frames=M equal=E
# differ=D fallback=F"; exits 1 on any difference.  Optional argument: a
# scale factor for the number of stacks (default 1) and a seed.
set -euo pipefail
cd "$(dirname "$0")"
out=../.build-unwinder
mkdir -p "$out"
# The unwinder is the core's, built here alone with its test hooks.
. ./ehu-objects.sh
ehu_objects -DEHU_TEST_HOOKS
cc $W -O2 -g -fomit-frame-pointer -falign-functions=1 -c val_o2.c -o "$out/val_o2.o"
cc $W -O0 -g -c val_o0.c -o "$out/val_o0.o"
objs=("$out/ehu.o" "$out/ehu_cfi.o" "$out/ehu_fork.o" "$out/val_o2.o" "$out/val_o0.o")
link=cc
if command -v c++ >/dev/null; then # libstdc++ frames (optional)
    c++ -Wall -Wextra -O2 -g -c val_cxx.cc -o "$out/val_cxx.o"
    objs+=("$out/val_cxx.o")
    link=c++
fi
if command -v swiftc >/dev/null; then # Swift -O frames, libswiftCore's too (optional)
    swiftc -O -parse-as-library -module-name ValSwift -import-objc-header val.h -emit-object \
        val_swift.swift -o "$out/val_swift.o"
    objs+=("$out/val_swift.o")
    swiftlib=$(dirname "$(command -v swiftc)")/../lib/swift/linux
    slibs=(-L"$swiftlib" -Wl,-rpath,"$swiftlib" -lswiftCore "$swiftlib/x86_64/swiftrt.o")
fi
# The dlopen/dlclose pair: same code layout, different frame sizes.
cc $W -O2 -g -fPIC -shared -fomit-frame-pointer -DFRAME=200 val_plug.c -o "$out/libehu_plug_a.so"
cc $W -O2 -g -fPIC -shared -fomit-frame-pointer -DFRAME=2000 val_plug.c -o "$out/libehu_plug_b.so"
cc $W -O2 -g -c ehu_validate.c -o "$out/ehu_validate.o"
cc $W -O2 -g -c val_signal.c -o "$out/val_signal.o"
$link -rdynamic "$out/ehu_validate.o" "$out/val_signal.o" "${objs[@]}" -o "$out/ehu_validate" ${slibs[@]+"${slibs[@]}"} -lpthread -ldl
"$out/ehu_validate" "${1:-1}" "$out" "${2:-12345}"
# The same suite with ehu's FDE lookup through dl_iterate_phdr (the path
# for glibc < 2.35, without _dl_find_object).
EHU_PHDR=1 "$out/ehu_validate" "${1:-1}" "$out" "${2:-12345}" | sed 's/^EHU validate/EHU validate(phdr)/' | grep -v '^EHU diff' | grep '^EHU validate'
