/*  attuned_watch: attuned's log of finished executions. It subscribes to
    every fact of `executor.facts` and logs one line per execution that
    ends (action, id, status, duration, the first line of its output).
    When facts were lost (a gap in their sequence numbers) it asks the
    executor what changed meanwhile (api.execution.changes on
    executor.query, through bus_client) and logs the executions that ended
    in the gap, once each, marked "recovered after a gap"; at most one
    catch-up a second.

    Single-threaded: attuned's main loop polls its socket.
*/
#ifndef ATTUNED_WATCH_H_INCLUDED
#define ATTUNED_WATCH_H_INCLUDED

#include <czmq.h>
#include "bus/bus_facts.h"
#include "bus/bus_topology.h"

typedef struct _attuned_watch_t attuned_watch_t;

//  Subscribe to the executor's facts where `topology` says. NULL on failure.
attuned_watch_t *attuned_watch_new (bus_topology_t *topology);
void attuned_watch_destroy (attuned_watch_t **self_p);

//  The socket to poll.
zsock_t *attuned_watch_sock (attuned_watch_t *self);
//  True when a catch-up after a gap is due (call handle even without a fact).
bool attuned_watch_due (attuned_watch_t *self);
//  Log what has arrived (a bounded batch) and catch up after a gap when due.
void attuned_watch_handle (attuned_watch_t *self);

#endif
