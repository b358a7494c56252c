/*
 * up_maps.h - loaded objects: MAP records and the agent's own text.
 */
#ifndef UP_MAPS_H
#define UP_MAPS_H

#include <stdint.h>

/* Emit one MAP record per executable PT_LOAD of every loaded object
 * (dl_iterate_phdr).  Context: the writer thread (takes the loader's lock). */
void up_maps_emit(void);
/* The executable segment of the object holding `addr` (the agent).
 * 0 or -1.  Context: the constructor. */
int up_maps_find_text(const void *addr, uintptr_t *start, uintptr_t *end);

#endif /* UP_MAPS_H */
