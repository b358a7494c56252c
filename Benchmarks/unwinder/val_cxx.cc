// val_cxx.cc - validation workloads with libstdc++ frames (optional).
#include <algorithm>
#include <mutex>
#include <ostream>
#include <streambuf>
#include <vector>
#include "val.h"

extern "C" int v_cxx_sort(int x)
{
    std::vector<int> v = {9, 4, 7, 1, x, 3, 8, 2, 6, 5, 11, 0, 13, 12, 10, 15, 14, 17};
    bool fired = false;
    std::sort(v.begin(), v.end(), [&](int a, int b) {
        if (!fired) {
            fired = true;
            vstep();
        }
        return a < b;
    });
    return v[0];
}

// std::call_once: libc's pthread_once and libstdc++'s __once_proxy below.
extern "C" int v_cxx_once(int x)
{
    std::once_flag flag;
    std::call_once(flag, [] { vstep(); });
    return x;
}

// std::ostream::put (libstdc++.so) calls our streambuf's overflow.
struct step_buf : std::streambuf {
    int overflow(int c) override
    {
        vstep();
        return c;
    }
};

extern "C" int v_cxx_stream(int x)
{
    step_buf sb;
    std::ostream os(&sb);
    os.put('x');
    return x;
}
