/*  testing_st2: the pipeline in one process, for the suites that drive
    StackStorm's runners, rules and packs end to end (pipeline, st2_shell,
    st2_announcement, st2_defaults, shell_templates).

    testing_st2_init makes a temporary root holding packs/ (the pack `test`
    with its trigger test.hook, and attune's core pack when asked) and
    data/, and a bus namespace of its own; the suite then writes what its
    test needs and calls testing_st2_start, which runs registry, executor,
    rules and worker (and sensor when asked) as attuned does, over
    inproc://. Events go to rules over the reliable link as any client's
    would; the executor's facts tell when an execution ends. Call
    testing_st2_fini from the suite's .fini: it stops the actors and
    removes the root even when an assertion failed mid-test.
*/
#ifndef TESTING_ST2_H_INCLUDED
#define TESTING_ST2_H_INCLUDED

#include "tests/testing.h"

#include "actors/actor.h"
#include "actors/executor/executor.h"
#include "actors/registry/registry.h"
#include "actors/rules/rules.h"
#include "actors/sensor/sensor.h"
#include "actors/worker/worker.h"
#include "bus/bus_facts.h"
#include "bus/bus_link.h"

//  What testing_st2_init sets up besides the pack `test`
#define TESTING_ST2_CORE   1 //  packs/core: a link to attune's core pack
#define TESTING_ST2_SENSOR 2 //  testing_st2_start runs the sensor actor too

#define TESTING_ST2_ACTORS 5

typedef struct {
    char root[PATH_MAX - 256]; //  temporary directory of this test
    char packs[PATH_MAX];      //  <root>/packs
    char data[PATH_MAX];       //  <root>/data
    int options;               //  TESTING_ST2_CORE | TESTING_ST2_SENSOR
    int timeout_ms;            //  how long testing_st2_run waits (init: 10 s)
    bus_topology_t *topology;
    zactor_t *actors[TESTING_ST2_ACTORS];
    bus_sub_t *facts; //  the executor's execution.* facts
    bus_link_t *link; //  to rules.commands, as client@test
} testing_st2_t;

//  The root, the pack `test` and a namespace `ns`-<pid>-<n> of its own:
//  call from the suite's .init, then write packs, then start.
static inline void
testing_st2_init (testing_st2_t *self, const char *prefix, const char *ns, int options)
{
    static int counter;
    unsetenv ("ATTUNE_CONFIGS"); //  configs/ next to the packs, whatever the caller set
    memset (self, 0, sizeof *self);
    self->options = options;
    self->timeout_ms = 10000;
    testing_tmpdir (self->root, sizeof self->root, prefix);
    snprintf (self->packs, sizeof self->packs, "%s/packs", self->root);
    snprintf (self->data, sizeof self->data, "%s/data", self->root);
    mkdir (self->packs, 0750);
    if (options & TESTING_ST2_CORE) {
        char core[PATH_MAX + 32];
        snprintf (core, sizeof core, "%s/core", self->packs);
        cr_assert_eq (symlink (ATTUNE_SOURCE_DIR "/packs/core", core), 0);
    }
    testing_write (self->packs, "test/pack.yaml",
                   "ref: test\nname: test\nversion: 1.0.0\n");
    testing_write (self->packs, "test/triggers/hook.yaml", "name: hook\npack: test\n");
    char name[64];
    snprintf (name, sizeof name, "%s-%d-%d", ns, getpid (), ++counter);
    self->topology = bus_topology_new (name);
}

//  Write a pack file: testing_st2_write (st2, "test/actions/x.yaml", "...").
static inline void
testing_st2_write (testing_st2_t *self, const char *path, const char *text)
{
    testing_write (self->packs, path, text);
}

//  Run the actors on what the packs hold now, watch the executor's facts
//  and open the link to rules.
static inline void
testing_st2_start (testing_st2_t *self)
{
    actor_config_t config = {.topology = self->topology,
                             .data_dir = self->data,
                             .packs_dir = self->packs,
                             .host = "test",
                             .worker_slots = 4,
                             .heartbeat_ms = 200,
                             .nosync = true};
    self->facts = bus_sub_new (0);
    bus_sub_connect (self->facts,
                     bus_topology_connect (self->topology, "executor.facts"));
    bus_sub_subscribe (self->facts, "execution.");
    zactor_fn *fns[TESTING_ST2_ACTORS] = {registry_actor, executor_actor, rules_actor,
                                          worker_actor, sensor_actor};
    int actors = self->options & TESTING_ST2_SENSOR ? 5 : 4;
    for (int i = 0; i < actors; i++) {
        self->actors[i] = zactor_new (fns[i], &config);
        cr_assert_not_null (self->actors[i]);
    }
    self->link = bus_link_new (bus_topology_connect (self->topology, "rules.commands"),
                               "client@test", NULL);
    cr_assert_not_null (self->link);
}

//  Stop what testing_st2_start ran (in reverse) and remove the root.
static inline void
testing_st2_fini (testing_st2_t *self)
{
    bus_link_destroy (&self->link);
    for (int i = TESTING_ST2_ACTORS - 1; i >= 0; i--)
        zactor_destroy (&self->actors[i]);
    bus_sub_destroy (&self->facts);
    bus_topology_destroy (&self->topology);
    testing_rmtree (self->root);
}

//  A rule of the test pack: on events of `kind`, run `ref` with `params`
//  (YAML lines, indented by four; "" for none).
static inline void
testing_st2_rule (testing_st2_t *self, const char *kind, const char *ref,
                  const char *params)
{
    char path[128], text[10240];
    snprintf (path, sizeof path, "test/rules/%s.yaml", kind);
    int size = snprintf (text, sizeof text,
                         "name: %s\npack: test\ntrigger:\n  type: test.hook\ncriteria:\n"
                         "  trigger.payload.kind: {type: equals, pattern: %s}\n"
                         "action:\n  ref: %s\n  parameters:%s\n%s",
                         kind, kind, ref, *params ? "" : " {}", params);
    cr_assert (size > 0 && (size_t)size < sizeof text, "rule %s: too long", kind);
    testing_st2_write (self, path, text);
}

//  Send an event of test.hook with `payload` (taken) to rules.
static inline void
testing_st2_event (testing_st2_t *self, json_t *payload)
{
    proto_envelope_t *event = proto_envelope_new ("event.create", "client@test");
    json_t *body = json_pack ("{s:s, s:{}, s:o}", "trigger", "test.hook",
                              "trigger_parameters", "payload", payload);
    cr_assert_eq (proto_envelope_set_payload_json (event, body, NULL), PROTO_OK);
    json_decref (body);
    cr_assert_eq (bus_link_send (self->link, &event), 0);
}

//  Wait for a terminal execution fact whose payload field `key` equals
//  `value`; returns its payload (caller owns it) or NULL after timeout_ms.
static inline json_t *
testing_st2_wait (testing_st2_t *self, const char *key, const char *value, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (zclock_mono () < deadline) {
        bus_link_handle (self->link);
        bus_link_tick (self->link);
        proto_envelope_t *fact = bus_sub_recv (self->facts, NULL, 50);
        if (!fact)
            continue;
        json_t *payload = proto_envelope_payload_json (fact, NULL);
        proto_envelope_destroy (&fact);
        const char *status = json_string_value (json_object_get (payload, "status"));
        const char *field = json_string_value (json_object_get (payload, key));
        if (status && field && streq (field, value) && testing_status_terminal (status))
            return payload;
        json_decref (payload);
    }
    return NULL;
}

//  The terminal fact of rule test.`kind`'s execution after an event with
//  `payload` (taken); fails the test when none comes in self->timeout_ms.
static inline json_t *
testing_st2_run (testing_st2_t *self, const char *kind, json_t *payload)
{
    json_object_set_new (payload, "kind", json_string (kind));
    testing_st2_event (self, payload);
    char rule[128];
    snprintf (rule, sizeof rule, "test.%s", kind);
    json_t *done = testing_st2_wait (self, "rule", rule, self->timeout_ms);
    cr_assert_not_null (done, "no end of %s", rule);
    return done;
}

//  The result's stdout and error of a terminal fact (NULL when it has none)
static inline const char *
testing_st2_stdout (const json_t *done)
{
    return json_string_value (
        json_object_get (json_object_get (done, "result"), "stdout"));
}

static inline const char *
testing_st2_error (const json_t *done)
{
    return json_string_value (
        json_object_get (json_object_get (done, "result"), "error"));
}

#endif
