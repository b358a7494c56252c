/* liburcu, bp flavor (Debian: liburcu-dev): the flavor with fork hooks
 * (Docs/Design.md, "Registry").  The read side goes through the library's
 * exported functions: no _LGPL_SOURCE, so no LGPL code is inlined into
 * DeferredUnwind's objects (see Docs/Design.md, "Licence"). */
#ifndef CURCU_SHIM_H
#define CURCU_SHIM_H
#include <urcu/urcu-bp.h>
#endif
