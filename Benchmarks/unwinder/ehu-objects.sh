# Sourced by validate.sh and Scripts/bench/unwinder.sh (from Benchmarks/unwinder):
# builds the core's unwinder alone (Sources/CDeferredUnwind/ehu*.c) into
# $out/ehu*.o with the extra cc flags given (validate.sh: -DEHU_TEST_HOOKS,
# the dlclose control and the dl_iterate_phdr path).  Sets core and W.
core=../../Sources/CDeferredUnwind
W="-Wall -Wextra -std=gnu11 -I$core"
ehu_objects() {
    local f
    for f in ehu ehu_cfi ehu_fork; do
        cc $W "$@" -O2 -g -c "$core/$f.c" -o "$out/$f.o"
    done
}
