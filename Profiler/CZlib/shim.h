/* zlib for the pprof writer's gzip (Debian: zlib1g-dev). */
#include <zlib.h>
