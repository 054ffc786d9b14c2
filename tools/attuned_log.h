/*  attuned_log: the daemon's log lines, formatted in one place.

    Every actor logs through CZMQ (zsys_error ... zsys_info), which formats
    "L: (attuned) yy-mm-dd hh:mm:ss message" onto its log stream. attuned
    gives zsys a stream of its own (fopencookie) that reads each line back
    and, by actor, drops it below that actor's level or writes it to
    standard output as it came (`text`) or as one JSON object (`json`):

        {"ts":"2026-12-05T08:30:00.123Z","level":"info","actor":"executor",
         "message":"executor: ..."}

    The actor of a line is the first word of its message when it names an
    actor or attuned's own parts ("executor: ...", "worker worker@h: ...",
    "<data>/rules: ..." for a store): registry, rules, executor, worker,
    sensor, datastore, api, http, workflow, store, pack; "execution ..."
    lines (one per execution end) are the executor's; anything else is
    "attuned". Levels, lowest first: debug, info, notice, warning, error.
*/
#ifndef ATTUNED_LOG_H_INCLUDED
#define ATTUNED_LOG_H_INCLUDED

#include <stddef.h>

//  Set up the log: `format` "text" (default) or "json"; `levels` a comma
//  list of LEVEL (every actor) and ACTOR=LEVEL ("info,executor=debug,
//  worker=warning"); either may be NULL. Call after zsys_init, before any
//  actor starts. 0, or -1 with `message` saying what is wrong.
int attuned_log_setup (const char *format, const char *levels, char *message,
                       size_t size);

#endif
