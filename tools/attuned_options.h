/*  attuned_options: what the daemon is told to run, from its flags and the
    topology file's `daemon` section (flags win over the file).

    attuned_options_parse reads argv with getopt_long, then the file when
    one is named, refusing unknown flags and settings and out-of-range
    numbers with a message on stderr that names the flag or setting.
*/
#ifndef ATTUNED_OPTIONS_H_INCLUDED
#define ATTUNED_OPTIONS_H_INCLUDED

#include <czmq.h>

#include "actors/actor.h"
#include "bus/bus_security.h"

typedef struct {
    const char *config_path;
    const char *data_dir;    //  default ./var/attune
    const char *packs_dir;   //  default ./packs
    const char *configs_dir; //  pack configs (default <packs>/../configs)
    const char *actors;
    actor_config_t config;
    bool quiet;
    const char *log_format; //  --log-format, daemon/log/format
    const char *log_level;  //  --log-level, daemon/log/level
    const char *api_endpoint;
    const char *facts_endpoint;
    bus_security_config_t security;
    const char *security_mode;
    int drain_ms;
    //  --retention-*, daemon/retention/*: durations, parsed into
    //  config.retention (defaults: actors/actor_retention.h)
    const char *retention[4]; //  executions, events, inquiries, interval
    zconfig_t *file;          //  the topology file, loaded; the caller destroys it
} attuned_options_t;

//  The flags, then the topology file's `daemon` section for what they did
//  not set. -1 to go on, or the exit code (0 after --help, 1 or 2 after
//  saying why on stderr).
int attuned_options_parse (attuned_options_t *self, int argc, char *argv[]);

//  Whether `name` is in the comma-separated `list`; a NULL list holds all.
bool attuned_listed (const char *list, const char *name);

#endif
