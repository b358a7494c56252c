/*
 * up_maps.c - MAP records (Docs/ProfileFormat.md, type 5): every executable
 * PT_LOAD of every loaded object, its load bias, file offset, GNU build id
 * (from PT_NOTE) and path.  The main program's path is /proc/self/exe
 * resolved (dl_iterate_phdr names it ""); the vDSO keeps its soname.
 */
#include <elf.h>
#include <limits.h>
#include <link.h>
#include <string.h>
#include <unistd.h>
#include "up_agent.h"
#include "up_maps.h"
#include "up_records.h"
#include "up_writer.h"

#define UP_BUILD_ID_MAX 64

/* The GNU build id in the object's notes: its length, 0 when none. */
static size_t up_build_id(const struct dl_phdr_info *info, const unsigned char **out)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        size_t align = ph->p_align == 8 ? 8 : 4;
        const unsigned char *p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
        const unsigned char *end = p + ph->p_filesz;
        while ((size_t)(end - p) >= sizeof(ElfW(Nhdr))) {
            const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
            size_t name_sz = (n->n_namesz + align - 1) & ~(align - 1);
            size_t desc_sz = (n->n_descsz + align - 1) & ~(align - 1);
            const unsigned char *name = p + sizeof *n;
            const unsigned char *desc = name + name_sz;
            if (name_sz > (size_t)(end - name) || desc_sz > (size_t)(end - desc))
                break;
            if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && memcmp(name, "GNU", 4) == 0 &&
                n->n_descsz > 0 && n->n_descsz <= UP_BUILD_ID_MAX) {
                *out = desc;
                return n->n_descsz;
            }
            p = desc + desc_sz;
        }
    }
    return 0;
}

static int up_map_object(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    int *index = data;
    const char *path = info->dlpi_name ? info->dlpi_name : "";
    char exe[PATH_MAX];
    if ((*index)++ == 0 && path[0] == '\0') {
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n > 0) {
            exe[n] = '\0';
            path = exe;
        }
    }
    const unsigned char *id = NULL;
    size_t id_len = up_build_id(info, &id);
    size_t path_len = strnlen(path, PATH_MAX);
    unsigned char var[UP_BUILD_ID_MAX + PATH_MAX];
    if (id_len)
        memcpy(var, id, id_len);
    memcpy(var + id_len, path, path_len);
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        struct up_rec_map rec = {
            .h = {.type = UP_REC_MAP, .flags = 0, .size = up_rec_size(sizeof rec, id_len + path_len)},
            .start = info->dlpi_addr + ph->p_vaddr,
            .end = info->dlpi_addr + ph->p_vaddr + ph->p_memsz,
            .bias = info->dlpi_addr,
            .file_offset = ph->p_offset,
            .build_id_len = (uint16_t)id_len,
            .path_len = (uint16_t)path_len,
            .reserved = 0,
        };
        up_writer_record(&rec, sizeof rec, var, id_len + path_len);
    }
    return 0;
}

void up_maps_emit(void)
{
    int index = 0;
    (void)dl_iterate_phdr(up_map_object, &index);
}

struct up_text_query {
    uintptr_t addr, start, end;
};

static int up_text_object(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct up_text_query *q = data;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && q->addr >= start && q->addr < start + ph->p_memsz) {
            q->start = start;
            q->end = start + ph->p_memsz;
            return 1;
        }
    }
    return 0;
}

int up_maps_find_text(const void *addr, uintptr_t *start, uintptr_t *end)
{
    struct up_text_query q = {.addr = (uintptr_t)addr, .start = 0, .end = 0};
    if (dl_iterate_phdr(up_text_object, &q) != 1)
        return -1;
    *start = q.start;
    *end = q.end;
    return 0;
}
