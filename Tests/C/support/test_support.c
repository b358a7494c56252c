#define _GNU_SOURCE
#include <dlfcn.h>
#include <string.h>
#include "test_support.h"

void du_test_symbolize(uintptr_t ip, char *buf, size_t len)
{
    Dl_info info;
    if (len == 0)
        return;
    buf[0] = 0;
    /* ip is a return address: look up ip - 1, inside the call instruction. */
    if (dladdr((void *)(ip - 1), &info) && info.dli_sname) {
        strncpy(buf, info.dli_sname, len - 1);
        buf[len - 1] = 0;
    }
}
