/*
 * unwind_stress.h - the C half of the unwind-stress harness, as seen from
 * Swift (Stress/unwind-stress: StressCommand.swift parses the command line
 * with swift-argument-parser, main.swift calls hs_run(), or
 * hs_lifecycle_child() before any parsing).  Everything that runs in a
 * signal handler lives in C.
 */
#ifndef UNWIND_STRESS_H
#define UNWIND_STRESS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HS_MAX_SCENARIOS 32

struct hs_config {
    double duration;          /* seconds of stress (all slices together) */
    uint64_t seed;
    int seed_given;           /* 1 when --seed was given */
    int threads;              /* worker threads */
    int nscenarios;           /* 0: the default set (all, or the variant's) */
    int scenarios[HS_MAX_SCENARIOS]; /* indexes into the scenario table */
    const char *variant;      /* NULL: release du_ library */
    const char *json_path;    /* NULL: no JSON */
    const char *argv0;        /* how to spell the replay command */
};

/* Number of scenarios; name/description of scenario i (0-based). */
int hs_scenario_count(void);
const char *hs_scenario_name(int i);
const char *hs_scenario_desc(int i);
/* Index of a scenario by name (also accepts its number "1".."hs_scenario_numbered()"); -1. */
int hs_scenario_find(const char *name);
/* Scenarios that have a number (the first ones); later ones by name only. */
int hs_scenario_numbered(void);

/* Variants of the duv_ library: NULL-terminated names, and a description. */
const char *const *hs_variant_names(void);
const char *hs_variant_desc(const char *name);
/* 1 if the duv_ library knows this variant name. */
int hs_variant_valid(const char *name);

/* The exec'ed child of scenario dlopen-cycle: main() calls this when
 * argv[1] is "--lifecycle-child".  Returns the exit status. */
int hs_lifecycle_child(int argc, char **argv);

/* Run the harness.  Returns the exit status: 0 pass, 1 violation, 2 error.
 * (A violation usually exits the process directly, as soon as found.) */
int hs_run(const struct hs_config *cfg);

#ifdef __cplusplus
}
#endif
#endif
