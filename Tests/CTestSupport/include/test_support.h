/* test_support.h - C helpers the Swift tests cannot write themselves
 * (Glibc's Swift overlay does not export dladdr). */
#ifndef DU_TEST_SUPPORT_H
#define DU_TEST_SUPPORT_H
#include <stddef.h>
#include <stdint.h>
/* Symbol name containing `ip` ("" if unknown), copied into buf. */
void du_test_symbolize(uintptr_t ip, char *buf, size_t len);
#endif
