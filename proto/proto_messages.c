/*  proto_messages: the table of message types, and its validator
    (proto_messages.h). proto/PROTOCOL.md's registry tables list exactly
    these types (tests/test_proto_messages.c checks it): a new message
    starts here and in the page, in the same commit.
*/
#include "proto/proto_messages.h"
#include "proto/proto_internal.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define REQ PROTO_FIELD_REQUIRED
#define NIL PROTO_FIELD_NULLABLE

//  Field constructors: name, flags (and limits, element type, subfields)
#define F_ANY(n, f)                                                                      \
    {                                                                                    \
        n, PROTO_FIELD_ANY, f, 0, 0, 0, NULL                                             \
    }
#define F_STR(n, f)                                                                      \
    {                                                                                    \
        n, PROTO_FIELD_STR, f, 0, 0, 0, NULL                                             \
    }
#define F_STRN(n, f, a, b)                                                               \
    {                                                                                    \
        n, PROTO_FIELD_STR, f, a, b, 0, NULL                                             \
    }
#define F_UUID(n, f)                                                                     \
    {                                                                                    \
        n, PROTO_FIELD_UUID, f, 0, 0, 0, NULL                                            \
    }
#define F_INT(n, f)                                                                      \
    {                                                                                    \
        n, PROTO_FIELD_INT, f, 0, 0, 0, NULL                                             \
    }
#define F_UINT(n, f)                                                                     \
    {                                                                                    \
        n, PROTO_FIELD_UINT, f, 0, 0, 0, NULL                                            \
    }
#define F_UINTN(n, f, a, b)                                                              \
    {                                                                                    \
        n, PROTO_FIELD_UINT, f, a, b, 0, NULL                                            \
    }
#define F_NUM(n, f)                                                                      \
    {                                                                                    \
        n, PROTO_FIELD_NUMBER, f, 0, 0, 0, NULL                                          \
    }
#define F_BOOL(n, f)                                                                     \
    {                                                                                    \
        n, PROTO_FIELD_BOOL, f, 0, 0, 0, NULL                                            \
    }
#define F_MAP(n, f)                                                                      \
    {                                                                                    \
        n, PROTO_FIELD_MAP, f, 0, 0, 0, NULL                                             \
    }
#define F_MAPOF(n, f, sub)                                                               \
    {                                                                                    \
        n, PROTO_FIELD_MAP, f, 0, 0, 0, sub                                              \
    }
#define F_STRS(n, f)                                                                     \
    {                                                                                    \
        n, PROTO_FIELD_ARRAY, f, 0, 0, PROTO_FIELD_STR, NULL                             \
    }
#define F_ARRAY(n, f)                                                                    \
    {                                                                                    \
        n, PROTO_FIELD_ARRAY, f, 0, 0, PROTO_FIELD_ANY, NULL                             \
    }
#define F_ABOUT(n, t, f, about)                                                          \
    {                                                                                    \
        n, t, f, 0, 0, 0, NULL, about                                                    \
    }
#define F_END                                                                            \
    {                                                                                    \
        NULL, PROTO_FIELD_ANY, 0, 0, 0, 0, NULL                                          \
    }

//  Limits the page states
#define S_REF_MAX  255 //  refs, trigger types, names
#define S_PAGE_MAX 1000
//  An execution id as a worker holds it (the executor makes UUIDs), and as
//  the executor reads one (EXECUTOR_ID_SIZE - 1)
#define S_JOB_ID_MAX       44
#define S_EXECUTION_ID_MAX 39

//  ---------------------------------------------------------------------------
//  Payloads, shared where several types carry the same

static const proto_field_t s_none[] = {F_END};
static const proto_field_t s_ref[] = {
    {"ref", PROTO_FIELD_STR, REQ, 1, S_REF_MAX, 0, NULL, "a ref: pack.name"}, F_END};
static const proto_field_t s_definition[] = {F_STRN ("ref", REQ, 1, S_REF_MAX),
                                             F_MAP ("definition", REQ), F_END};
static const proto_field_t s_snapshot_request[] = {F_STRS ("kinds", 0), F_END};
static const proto_field_t s_snapshot_item[] = {F_STR ("kind", REQ), F_STR ("ref", REQ),
                                                F_MAP ("definition", REQ), F_END};
static const proto_field_t s_snapshot_end[] = {
    F_UINT ("seq", REQ), F_UINT ("publisher", REQ), F_UINT ("count", REQ), F_END};
static const proto_field_t s_pack_install[] = {
    F_ABOUT ("source", PROTO_FIELD_STR, REQ,
             "a directory on the registry's host or a git URL"),
    F_STRN ("ref", 0, 1, S_REF_MAX), F_END};
static const proto_field_t s_pack_reload[] = {F_STRN ("ref", 0, 1, S_REF_MAX), F_END};
static const proto_field_t s_rule_put[] = {F_MAP ("definition", REQ), F_END};
static const proto_field_t s_trigger_put[] = {F_MAP ("definition", REQ), F_END};
static const proto_field_t s_event_create[] = {F_STRN ("trigger", REQ, 1, S_REF_MAX),
                                               F_MAP ("trigger_parameters", NIL),
                                               F_MAP ("payload", REQ), F_END};
//  1 to 256 events, each the bytes of one event.create envelope
static const proto_field_t s_event_create_batch[] = {
    {"events", PROTO_FIELD_ARRAY, REQ, 1, 256, PROTO_FIELD_BIN, NULL, NULL}, F_END};
static const proto_field_t s_event_created[] = {
    F_UUID ("event", REQ),  F_STR ("trigger", REQ), F_MAP ("trigger_parameters", 0),
    F_MAP ("payload", REQ), F_INT ("ts", REQ),      F_END};
static const proto_field_t s_enforcement_created[] = {F_UUID ("enforcement", REQ),
                                                      F_STR ("rule", REQ),
                                                      F_UUID ("event", REQ),
                                                      F_STR ("action", REQ),
                                                      F_STR ("status", REQ),
                                                      F_STR ("reason", 0),
                                                      F_END};
//  Commands to the executor and to workers name executions and
//  enforcements by the ids their receivers hold (the executor makes UUIDs;
//  a receiver takes any id that fits, as its tests and tools send)
static const proto_field_t s_enforcement_create[] = {
    F_STRN ("enforcement", REQ, 1, 64),   F_STR ("rule", REQ),       F_STR ("event", REQ),
    F_STRN ("action", REQ, 1, S_REF_MAX), F_MAP ("parameters", REQ), F_END};
static const proto_field_t s_worker_register[] = {F_STRN ("worker", REQ, 1, S_REF_MAX),
                                                  F_UINT ("instance", REQ),
                                                  F_STR ("endpoint", REQ),
                                                  F_STRS ("runtimes", REQ),
                                                  F_UINT ("slots", REQ),
                                                  F_STRS ("executions", 0),
                                                  F_BOOL ("draining", 0),
                                                  F_STRN ("curve_key", 0, 40, 40),
                                                  F_STRS ("never_started", 0),
                                                  F_STRS ("stopped", 0),
                                                  F_END};
static const proto_field_t s_worker_reconciled[] = {F_STR ("worker", REQ),
                                                    F_STRS ("drop", REQ), F_END};
static const proto_field_t s_worker_draining[] = {F_STR ("worker", REQ),
                                                  F_STRS ("returned", 0), F_END};
static const proto_field_t s_worker_name[] = {F_STR ("worker", REQ), F_END};
static const proto_field_t s_dispatch_action[] = {
    F_STR ("ref", REQ),       F_STR ("runner_type", REQ),
    F_STR ("entry_point", 0), F_STR ("pack_dir", 0),
    F_BOOL ("idempotent", 0), F_NUM ("timeout", NIL),
    F_STRS ("positional", 0), F_END};
static const proto_field_t s_dispatch_rerun[] = {
    F_STR ("ref", REQ), F_STRS ("tasks", REQ), F_STRS ("reset", 0), F_END};
static const proto_field_t s_dispatch[] = {F_STRN ("execution", REQ, 1, S_JOB_ID_MAX),
                                           F_MAPOF ("action", REQ, s_dispatch_action),
                                           F_MAP ("parameters", REQ),
                                           F_STRS ("secret", 0),
                                           F_MAPOF ("rerun", 0, s_dispatch_rerun),
                                           F_END};
static const proto_field_t s_execution_only[] = {
    F_STRN ("execution", REQ, 1, S_JOB_ID_MAX), F_END};
static const proto_field_t s_execution_status[] = {
    F_STRN ("execution", REQ, 1, S_EXECUTION_ID_MAX),
    F_STR ("worker", REQ),
    F_STR ("status", REQ),
    F_ANY ("result", 0),
    F_INT ("exit_code", 0),
    F_INT ("ts", 0),
    F_INT ("claim", 0),
    F_END};
//  Live output (issue 21): a chunk of an execution's stdout or stderr
static const proto_field_t s_output_report[] = {
    F_STRN ("execution", REQ, 1, S_EXECUTION_ID_MAX),
    F_STR ("worker", REQ),
    F_UINT ("seq", REQ),
    F_STRN ("stream", REQ, 1, 16),
    F_STRN ("data", REQ, 0, 65536),
    F_UINT ("offset", 0),
    F_BOOL ("truncated", 0),
    F_END};
static const proto_field_t s_output_fact[] = {F_UUID ("execution", REQ),
                                              F_UINT ("seq", REQ),
                                              F_STRN ("stream", REQ, 1, 16),
                                              F_STRN ("data", REQ, 0, 65536),
                                              F_UINT ("offset", 0),
                                              F_BOOL ("truncated", 0),
                                              F_END};
static const proto_field_t s_output_ask[] = {F_STR ("id", REQ), F_UINT ("offset", 0),
                                             F_STRN ("stream", 0, 1, 16),
                                             F_UINTN ("limit", 0, 1, S_PAGE_MAX), F_END};
static const proto_field_t s_execution_start[] = {
    F_STRN ("execution", REQ, 1, S_JOB_ID_MAX), F_INT ("claim", REQ), F_END};
static const proto_field_t s_execution_refused[] = {
    F_STRN ("execution", REQ, 1, S_JOB_ID_MAX), F_STR ("reason", REQ), F_END};
static const proto_field_t s_execution_fact[] = {
    F_UUID ("execution", REQ), F_STR ("action", REQ),      F_STR ("status", REQ),
    F_STR ("worker", NIL),     F_STR ("enforcement", NIL), F_STR ("rule", NIL),
    F_ANY ("result", 0),       F_INT ("started", NIL),     F_INT ("ended", NIL),
    F_STR ("parent", 0),       F_STR ("task", 0),          F_END};
static const proto_field_t s_worker_fact[] = {
    F_STR ("worker", REQ), F_STRS ("runtimes", 0), F_UINT ("slots", 0), F_END};
static const proto_field_t s_inquiry_fact[] = {
    F_UUID ("inquiry", REQ), F_UUID ("execution", REQ), F_STR ("status", REQ), F_END};
static const proto_field_t s_rules_sync[] = {
    F_STR ("kind", 0), F_STRN ("ref", REQ, 1, S_REF_MAX), F_UUID ("change", REQ),
    F_BOOL ("deleted", 0), F_END};

//  api.backup, store.backup: a directory on the daemon's host
static const proto_field_t s_backup[] = {F_STRN ("dir", REQ, 1, 1900), F_END};

//  api.purge (issue 21): what, how old, which
static const proto_field_t s_purge[] = {
    F_ABOUT ("kind", PROTO_FIELD_STR, REQ, "executions, events or inquiries"),
    F_ABOUT ("older_than", PROTO_FIELD_INT, REQ, "seconds"), F_ANY ("status", 0),
    F_STRN ("action", 0, 1, S_REF_MAX), F_END};

//  api requests
static const proto_field_t s_page[] = {F_STR ("after", 0),
                                       F_UINTN ("limit", 0, 1, INT32_MAX), F_END};
static const proto_field_t s_list[] = {F_STR ("pack", 0), F_STR ("after", 0),
                                       F_UINTN ("limit", 0, 1, INT32_MAX), F_END};
static const proto_field_t s_rule_list[] = {F_STR ("pack", 0), F_BOOL ("enabled", 0),
                                            F_STR ("after", 0),
                                            F_UINTN ("limit", 0, 1, INT32_MAX), F_END};
static const proto_field_t s_api_definition[] = {F_MAP ("definition", 0),
                                                 F_STR ("yaml", 0), F_END};
static const proto_field_t s_api_publish[] = {F_STRN ("trigger", REQ, 1, S_REF_MAX),
                                              F_MAP ("payload", 0),
                                              F_MAP ("trigger_parameters", 0), F_END};
static const proto_field_t s_id[] = {F_ABOUT ("id", PROTO_FIELD_STR, REQ, "an id"),
                                     F_END};
static const proto_field_t s_rule_test[] = {F_STRN ("rule", 0, 1, S_REF_MAX),
                                            F_MAP ("definition", 0), F_STR ("event", 0),
                                            F_MAP ("trigger_instance", 0), F_END};
static const proto_field_t s_execution_get[] = {
    F_ABOUT ("id", PROTO_FIELD_STR, REQ, "an id"), F_BOOL ("show_secrets", 0), F_END};
static const proto_field_t s_event_list[] = {F_STR ("trigger", 0),
                                             F_UINTN ("limit", 0, 1, S_PAGE_MAX),
                                             F_STR ("before", 0), F_END};
static const proto_field_t s_enforcement_list[] = {F_STR ("rule", 0), F_STR ("event", 0),
                                                   F_UINTN ("limit", 0, 1, S_PAGE_MAX),
                                                   F_STR ("before", 0), F_END};
static const proto_field_t s_run[] = {F_STRN ("action", REQ, 1, S_REF_MAX),
                                      F_MAP ("parameters", 0),
                                      F_STR ("parent", 0),
                                      F_STRN ("task", 0, 1, S_REF_MAX),
                                      F_STRN ("identity", 0, 1, 256),
                                      F_END};
static const proto_field_t s_children[] = {F_STR ("id", REQ), F_STR ("before", 0),
                                           F_UINTN ("limit", 0, 1, S_PAGE_MAX), F_END};
static const proto_field_t s_rerun[] = {
    F_STR ("id", REQ),   F_MAP ("parameters", 0),        F_STRS ("tasks", 0),
    F_STRS ("reset", 0), F_STRN ("identity", 0, 1, 256), F_END};
static const proto_field_t s_execution_list[] = {
    F_STR ("status", 0), F_STR ("action", 0), F_STR ("rule", 0),
    F_INT ("since", 0),  F_INT ("until", 0),  F_UINTN ("limit", 0, 1, S_PAGE_MAX),
    F_STR ("before", 0), F_STR ("parent", 0), F_END};
static const proto_field_t s_changes[] = {F_UINT ("publisher", NIL), F_UINT ("since", 0),
                                          F_UINTN ("limit", 0, 1, S_PAGE_MAX),
                                          F_STR ("after", 0), F_END};
static const proto_field_t s_inquiry_list[] = {
    F_STR ("status", 0), F_UINTN ("limit", 0, 1, S_PAGE_MAX), F_STR ("before", 0), F_END};
static const proto_field_t s_respond[] = {
    F_ABOUT ("id", PROTO_FIELD_STR, REQ, "an execution id"),
    F_ABOUT ("response", PROTO_FIELD_ANY, REQ,
             "the answer, checked against the inquiry's response_schema"),
    F_STR ("identity", 0), F_END};
static const proto_field_t s_after[] = {F_STR ("after", 0), F_END};
static const proto_field_t s_delegate[] = {
    F_STRN ("type", REQ, 1, 64), F_MAP ("payload", 0), F_STRN ("identity", REQ, 1, 255),
    F_STRN ("role", REQ, 1, 16), F_END};
static const proto_field_t s_reply[] = {F_ANY ("result", 0), F_END};
static const proto_field_t s_error[] = {F_STR ("code", REQ), F_STR ("message", REQ),
                                        F_END};

//  Datastore (issue 16): keys and secrets (actors/datastore/)
#define S_KV_NAME_MAX 512
static const proto_field_t s_key_set[] = {F_STRN ("name", REQ, 1, S_KV_NAME_MAX),
                                          F_STR ("value", REQ),
                                          F_STR ("scope", 0),
                                          F_STR ("user", 0),
                                          F_UINTN ("ttl", 0, 1, INT32_MAX),
                                          F_BOOL ("secret", 0),
                                          F_STR ("identity", 0),
                                          F_END};
static const proto_field_t s_key_get[] = {F_STRN ("name", REQ, 1, S_KV_NAME_MAX),
                                          F_STR ("scope", 0),
                                          F_STR ("user", 0),
                                          F_BOOL ("decrypt", 0),
                                          F_STR ("identity", 0),
                                          F_END};
static const proto_field_t s_key_list[] = {
    F_STR ("prefix", 0),   F_STR ("scope", 0),
    F_STR ("user", 0),     F_BOOL ("decrypt", 0),
    F_STR ("after", 0),    F_UINTN ("limit", 0, 1, S_PAGE_MAX),
    F_STR ("identity", 0), F_END};
static const proto_field_t s_key_delete[] = {F_STRN ("name", REQ, 1, S_KV_NAME_MAX),
                                             F_STR ("scope", 0), F_STR ("user", 0),
                                             F_STR ("identity", 0), F_END};
static const proto_field_t s_key_load[] = {F_ARRAY ("items", REQ), F_STR ("identity", 0),
                                           F_END};
static const proto_field_t s_kv_fact[] = {F_STR ("scope", REQ),
                                          F_STR ("name", REQ),
                                          F_BOOL ("secret", REQ),
                                          F_STR ("reason", REQ),
                                          F_STR ("value", 0),
                                          F_INT ("expire_at", 0),
                                          F_END};
static const proto_field_t s_kv_deleted[] = {F_STR ("scope", REQ), F_STR ("name", REQ),
                                             F_BOOL ("secret", REQ),
                                             F_STR ("reason", REQ), F_END};

//  ---------------------------------------------------------------------------
//  The table

#define CMD  PROTO_MESSAGE_COMMAND
#define FACT PROTO_MESSAGE_FACT
#define ASK  PROTO_MESSAGE_REQUEST
#define ANS  PROTO_MESSAGE_REPLY

static const proto_message_t s_messages[] = {
    //  registry
    {"registry.pack.updated", FACT, "registry", "registry.facts", s_definition},
    {"registry.action.updated", FACT, "registry", "registry.facts", s_definition},
    {"registry.trigger.updated", FACT, "registry", "registry.facts", s_definition},
    {"registry.rule.updated", FACT, "registry", "registry.facts", s_definition},
    {"registry.policy.updated", FACT, "registry", "registry.facts", s_definition},
    {"registry.sensor.updated", FACT, "registry", "registry.facts", s_definition},
    {"registry.sensor.deleted", FACT, "registry", "registry.facts", s_ref},
    {"registry.rule.deleted", FACT, "registry", "registry.facts", s_ref},
    {"registry.action.deleted", FACT, "registry", "registry.facts", s_ref},
    {"registry.trigger.deleted", FACT, "registry", "registry.facts", s_ref},
    {"registry.heartbeat", FACT, "registry", "registry.facts", s_none},
    {"registry.snapshot.request", ASK, "any", "registry.snapshot", s_snapshot_request},
    {"registry.snapshot.item", ANS, "registry", "requester", s_snapshot_item},
    {"registry.snapshot.end", ANS, "registry", "requester", s_snapshot_end},
    {"registry.rule.put", CMD, "any", "registry.commands", s_rule_put},
    {"registry.rule.enable", CMD, "any", "registry.commands", s_ref},
    {"registry.rule.disable", CMD, "any", "registry.commands", s_ref},
    {"registry.rule.delete", CMD, "any", "registry.commands", s_ref},
    {"registry.trigger.put", CMD, "any", "registry.commands", s_trigger_put},
    {"registry.trigger.delete", CMD, "any", "registry.commands", s_ref},
    //  rules
    {"event.create", CMD, "sensor, client", "rules.commands", s_event_create},
    {"event.create.batch", CMD, "actor outboxes", "rules.commands", s_event_create_batch},
    {"event.created", FACT, "rules", "rules.facts", s_event_created},
    {"enforcement.created", FACT, "rules", "rules.facts", s_enforcement_created},
    {"enforcement.create", CMD, "rules", "executor.commands", s_enforcement_create},
    {"rules.sync", ASK, "api", "rules.query", s_rules_sync},
    {"rules.heartbeat", FACT, "rules", "rules.facts", s_none},
    //  executor and workers
    {"executor.heartbeat", FACT, "executor", "executor.facts", s_none},
    {"worker.register", CMD, "worker", "executor.commands", s_worker_register},
    {"worker.reconciled", CMD, "executor", "worker", s_worker_reconciled},
    {"worker.resync", CMD, "executor", "worker", s_worker_name},
    {"worker.draining", CMD, "worker", "executor.commands", s_worker_draining},
    {"execution.dispatch", CMD, "executor", "worker", s_dispatch},
    {"execution.cancel", CMD, "executor", "worker", s_execution_only},
    {"execution.pause", CMD, "executor", "worker", s_execution_only},
    {"execution.resume", CMD, "executor", "worker", s_execution_only},
    {"execution.status", CMD, "worker", "executor.commands", s_execution_status},
    {"execution.output", CMD, "worker", "executor.commands", s_output_report},
    {"execution.start", CMD, "executor", "worker", s_execution_start},
    {"execution.refused", CMD, "executor", "worker", s_execution_refused},
    {"execution.requested", FACT, "executor", "executor.facts", s_execution_fact},
    {"execution.delayed", FACT, "executor", "executor.facts", s_execution_fact},
    {"execution.scheduled", FACT, "executor", "executor.facts", s_execution_fact},
    {"execution.running", FACT, "executor", "executor.facts", s_execution_fact},
    {"execution.canceling", FACT, "executor", "executor.facts", s_execution_fact},
    {"execution.completed", FACT, "executor", "executor.facts", s_execution_fact},
    {"execution.failed", FACT, "executor", "executor.facts", s_execution_fact},
    {"execution.timeout", FACT, "executor", "executor.facts", s_execution_fact},
    {"execution.cancelled", FACT, "executor", "executor.facts", s_execution_fact},
    {"execution.pausing", FACT, "executor", "executor.facts", s_execution_fact},
    {"execution.paused", FACT, "executor", "executor.facts", s_execution_fact},
    {"execution.resuming", FACT, "executor", "executor.facts", s_execution_fact},
    {"execution.abandoned", FACT, "executor", "executor.facts", s_execution_fact},
    {"execution.pending", FACT, "executor", "executor.facts", s_execution_fact},
    {"execution.output", FACT, "executor", "executor.facts", s_output_fact},
    {"worker.up", FACT, "executor", "executor.facts", s_worker_fact},
    {"worker.down", FACT, "executor", "executor.facts", s_worker_fact},
    {"worker.draining", FACT, "executor", "executor.facts", s_worker_name},
    {"inquiry.created", FACT, "executor", "executor.facts", s_inquiry_fact},
    {"inquiry.responded", FACT, "executor", "executor.facts", s_inquiry_fact},
    {"inquiry.timeout", FACT, "executor", "executor.facts", s_inquiry_fact},
    {"inquiry.cancelled", FACT, "executor", "executor.facts", s_inquiry_fact},
    //  api (requests on api.requests; reads also on the owners' *.query)
    {"api.reply", ANS, "api", "client", s_reply},
    {"api.error", ANS, "api", "client", s_error},
    {"api.ping", ASK, "client", "api.requests", s_none},
    {"api.hello", ASK, "client", "api.requests", s_none},
    {"api.status", ASK, "client", "api.requests", s_none},
    {"api.pack.list", ASK, "client", "api.requests", s_page},
    {"api.pack.get", ASK, "client", "api.requests", s_ref},
    {"api.pack.install", ASK, "client", "api.requests", s_pack_install},
    {"api.pack.remove", ASK, "client", "api.requests", s_ref},
    {"api.pack.reload", ASK, "client", "api.requests", s_pack_reload},
    {"api.action.list", ASK, "client", "api.requests", s_list},
    {"api.action.get", ASK, "client", "api.requests", s_ref},
    {"api.action.queue_stats", ASK, "client", "api.requests", s_ref},
    {"api.trigger.list", ASK, "client", "api.requests", s_page},
    {"api.trigger.get", ASK, "client", "api.requests", s_ref},
    {"api.trigger.create", ASK, "client", "api.requests", s_api_definition},
    {"api.trigger.delete", ASK, "client", "api.requests", s_ref},
    {"api.policy.list", ASK, "client", "api.requests", s_list},
    {"api.policy.get", ASK, "client", "api.requests", s_ref},
    {"api.rule.list", ASK, "client", "api.requests", s_rule_list},
    {"api.rule.get", ASK, "client", "api.requests", s_ref},
    {"api.rule.create", ASK, "client", "api.requests", s_api_definition},
    {"api.rule.enable", ASK, "client", "api.requests", s_ref},
    {"api.rule.disable", ASK, "client", "api.requests", s_ref},
    {"api.rule.delete", ASK, "client", "api.requests", s_ref},
    {"api.rule.test", ASK, "client", "api.requests", s_rule_test},
    {"api.sensor.list", ASK, "client", "api.requests", s_list},
    {"api.sensor.get", ASK, "client", "api.requests", s_ref},
    {"api.sensor.enable", ASK, "client", "api.requests", s_ref},
    {"api.sensor.disable", ASK, "client", "api.requests", s_ref},
    {"api.event.publish", ASK, "client", "api.requests", s_api_publish},
    {"api.event.list", ASK, "client", "api.requests", s_event_list},
    {"api.event.get", ASK, "client", "api.requests", s_id},
    {"api.enforcement.list", ASK, "client", "api.requests", s_enforcement_list},
    {"api.enforcement.get", ASK, "client", "api.requests", s_id},
    {"api.execution.run", ASK, "client", "api.requests", s_run},
    {"api.execution.list", ASK, "client", "api.requests", s_execution_list},
    {"api.execution.get", ASK, "client", "api.requests", s_execution_get},
    {"api.execution.children", ASK, "client", "api.requests", s_children},
    {"api.execution.output", ASK, "client", "api.requests", s_output_ask},
    {"api.execution.changes", ASK, "client", "api.requests", s_changes},
    {"api.execution.cancel", ASK, "client", "api.requests", s_id},
    {"api.execution.pause", ASK, "client", "api.requests", s_id},
    {"api.execution.resume", ASK, "client", "api.requests", s_id},
    {"api.execution.rerun", ASK, "client", "api.requests", s_rerun},
    {"api.inquiry.list", ASK, "client", "api.requests", s_inquiry_list},
    {"api.inquiry.get", ASK, "client", "api.requests", s_id},
    {"api.inquiry.respond", ASK, "client", "api.requests", s_respond},
    {"api.worker.list", ASK, "client", "api.requests", s_after},
    //  datastore (issue 16)
    {"kv.set", FACT, "datastore", "datastore.facts", s_kv_fact},
    {"kv.deleted", FACT, "datastore", "datastore.facts", s_kv_deleted},
    {"datastore.heartbeat", FACT, "datastore", "datastore.facts", s_none},
    {"api.key.set", ASK, "client", "api.requests", s_key_set},
    {"api.key.get", ASK, "client", "api.requests", s_key_get},
    {"api.key.list", ASK, "client", "api.requests", s_key_list},
    {"api.key.delete", ASK, "client", "api.requests", s_key_delete},
    {"api.key.load", ASK, "client", "api.requests", s_key_load},
    {"api.key.rotate", ASK, "client", "api.requests", s_none},
    {"api.delegate", ASK, "client", "api.requests", s_delegate},
    //  backup (issue 21)
    {"api.backup", ASK, "client", "api.requests", s_backup},
    {"api.purge", ASK, "client", "api.requests", s_purge},
    {"store.backup", ASK, "api", "<actor>.query", s_backup},
    //  metrics (issue 21)
    {"api.metrics", ASK, "client", "api.requests", s_none},
    {"metrics.get", ASK, "api", "<actor>.query", s_none},
};

#define S_MESSAGES (sizeof s_messages / sizeof s_messages[0])

const proto_message_t *
proto_message_lookup (const char *type, unsigned kinds)
{
    if (!type)
        return NULL;
    for (size_t i = 0; i < S_MESSAGES; i++)
        if ((s_messages[i].kind & kinds) && strcmp (s_messages[i].type, type) == 0)
            return &s_messages[i];
    return NULL;
}

size_t
proto_message_count (void)
{
    return S_MESSAGES;
}

const proto_message_t *
proto_message_at (size_t index)
{
    return index < S_MESSAGES ? &s_messages[index] : NULL;
}

bool
proto_runner_known (const char *runner)
{
    size_t len = runner ? strlen (runner) : 0;
    for (const char *p = PROTO_RUNNERS; len && *p;) {
        const char *end = strchr (p, ',');
        size_t n = end ? (size_t)(end - p) : strlen (p);
        if (n == len && memcmp (p, runner, n) == 0)
            return true;
        p += n + (end ? 1 : 0);
    }
    return false;
}

const char *
proto_message_kind_name (proto_message_kind_t kind)
{
    switch (kind) {
        case PROTO_MESSAGE_COMMAND:
            return "command";
        case PROTO_MESSAGE_FACT:
            return "fact";
        case PROTO_MESSAGE_REQUEST:
            return "request";
        case PROTO_MESSAGE_REPLY:
            return "reply";
        default:
            return "any";
    }
}

const char *
proto_field_type_name (proto_field_type_t type)
{
    static const char *names[] = {"any",    "str",  "uuid", "int", "uint",
                                  "number", "bool", "bin",  "map", "array"};
    return (size_t)type < sizeof names / sizeof names[0] ? names[type] : "?";
}

//  ---------------------------------------------------------------------------
//  The validator

//  The msgpack type of a value, as a message names it
static const char *
s_value_name (const msgpack_object *value)
{
    switch (value->type) {
        case MSGPACK_OBJECT_NIL:
            return "nil";
        case MSGPACK_OBJECT_BOOLEAN:
            return "bool";
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            return "int";
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
            return "float";
        case MSGPACK_OBJECT_STR:
            return "str";
        case MSGPACK_OBJECT_BIN:
            return "bin";
        case MSGPACK_OBJECT_ARRAY:
            return "array";
        case MSGPACK_OBJECT_MAP:
            return "map";
        default:
            return "ext";
    }
}

static bool
s_is_uuid (const msgpack_object *value)
{
    if (value->via.str.size != 36)
        return false;
    char text[37];
    memcpy (text, value->via.str.ptr, 36);
    text[36] = 0;
    uint8_t id[PROTO_UUID_SIZE];
    return proto_uuid_parse (text, id) == 0;
}

static bool
s_type_matches (proto_field_type_t type, const msgpack_object *value)
{
    switch (type) {
        case PROTO_FIELD_ANY:
            return true;
        case PROTO_FIELD_STR:
            return value->type == MSGPACK_OBJECT_STR;
        case PROTO_FIELD_UUID:
            return value->type == MSGPACK_OBJECT_STR && s_is_uuid (value);
        case PROTO_FIELD_INT:
            return value->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
                   value->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
        case PROTO_FIELD_UINT:
            return value->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
        case PROTO_FIELD_NUMBER:
            return value->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
                   value->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ||
                   value->type == MSGPACK_OBJECT_FLOAT32 ||
                   value->type == MSGPACK_OBJECT_FLOAT64;
        case PROTO_FIELD_BOOL:
            return value->type == MSGPACK_OBJECT_BOOLEAN;
        case PROTO_FIELD_BIN:
            return value->type == MSGPACK_OBJECT_BIN;
        case PROTO_FIELD_MAP:
            return value->type == MSGPACK_OBJECT_MAP;
        case PROTO_FIELD_ARRAY:
            return value->type == MSGPACK_OBJECT_ARRAY;
    }
    return false;
}

static proto_code_t s_fail (proto_error_t *error, proto_code_t code, const char *path,
                            const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));

static proto_code_t
s_fail (proto_error_t *error, proto_code_t code, const char *path, const char *format,
        ...)
{
    if (error) {
        char reason[200];
        va_list args;
        va_start (args, format);
        vsnprintf (reason, sizeof reason, format, args);
        va_end (args);
        error->code = code;
        error->offset = 0;
        snprintf (error->message, sizeof error->message, "%s: %s", path, reason);
    }
    return code;
}

//  The limits of a str (bytes), an integer (value) or an array (count)
static proto_code_t
s_check_limits (const proto_field_t *field, const msgpack_object *value, const char *path,
                proto_error_t *error)
{
    if (!field->min && !field->max)
        return PROTO_OK;
    int64_t n;
    const char *unit;
    if (value->type == MSGPACK_OBJECT_STR)
        n = (int64_t)value->via.str.size, unit = " bytes";
    else if (value->type == MSGPACK_OBJECT_ARRAY)
        n = (int64_t)value->via.array.size, unit = " elements";
    else if (value->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        n = value->via.u64 > INT64_MAX ? INT64_MAX : (int64_t)value->via.u64, unit = "";
    else if (value->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        n = value->via.i64, unit = "";
    else
        return PROTO_OK;
    if (n < field->min)
        return s_fail (error, PROTO_ERR_FIELD_TYPE, path,
                       "%" PRId64 "%s, at least %" PRId64, n, unit, field->min);
    if (field->max && n > field->max)
        return s_fail (error, PROTO_ERR_FIELD_TYPE, path,
                       "%" PRId64 "%s, at most %" PRId64, n, unit, field->max);
    return PROTO_OK;
}

static proto_code_t s_check_map (const proto_field_t *fields, const msgpack_object *map,
                                 char *path, size_t len, proto_error_t *error);

//  One field's value at `path`: type, nil, limits, then what it holds
static proto_code_t
s_check_value (const proto_field_t *field, const msgpack_object *value, char *path,
               size_t len, proto_error_t *error)
{
    if (value->type == MSGPACK_OBJECT_NIL && (field->flags & NIL))
        return PROTO_OK;
    if (!s_type_matches (field->type, value))
        return s_fail (
            error, PROTO_ERR_FIELD_TYPE, path, "expected %s%s, got %s",
            field->type == PROTO_FIELD_UUID ? "a UUID " : "",
            field->type == PROTO_FIELD_UUID ? "string"
                                            : proto_field_type_name (field->type),
            value->type == MSGPACK_OBJECT_STR && field->type == PROTO_FIELD_UUID
                ? "another string"
                : s_value_name (value));
    proto_code_t code = s_check_limits (field, value, path, error);
    if (code != PROTO_OK)
        return code;
    if (field->type == PROTO_FIELD_MAP && field->fields)
        return s_check_map (field->fields, value, path, len, error);
    if (field->type == PROTO_FIELD_ARRAY && field->items != PROTO_FIELD_ANY) {
        proto_field_t item = {field->name, field->items, 0, 0, 0, 0, NULL};
        for (uint32_t i = 0; i < value->via.array.size; i++) {
            size_t at = proto_path_append_index (path, PROTO_MESSAGE_PATH_MAX, len, i);
            code = s_check_value (&item, &value->via.array.ptr[i], path, at, error);
            path[len] = 0;
            if (code != PROTO_OK)
                return code;
        }
    }
    return PROTO_OK;
}

static proto_code_t
s_check_map (const proto_field_t *fields, const msgpack_object *map, char *path,
             size_t len, proto_error_t *error)
{
    for (const proto_field_t *field = fields; field->name; field++) {
        size_t at = proto_path_append_key (path, PROTO_MESSAGE_PATH_MAX, len, field->name,
                                           strlen (field->name));
        const msgpack_object *value = proto_map_get (map, field->name);
        proto_code_t code = PROTO_OK;
        if (!value && (field->flags & REQ))
            code = s_fail (error, PROTO_ERR_MISSING, path, "required (%s)",
                           field->about ? field->about
                                        : proto_field_type_name (field->type));
        else if (value)
            code = s_check_value (field, value, path, at, error);
        path[len] = 0;
        if (code != PROTO_OK)
            return code;
    }
    return PROTO_OK;
}

proto_code_t
proto_message_validate (const proto_message_t *message, const msgpack_object *payload,
                        proto_error_t *error)
{
    assert (message);
    if (!payload || payload->type != MSGPACK_OBJECT_MAP)
        return s_fail (error, PROTO_ERR_NOT_MAP, "payload", "expected map, got %s",
                       payload ? s_value_name (payload) : "nothing");
    char path[PROTO_MESSAGE_PATH_MAX] = "";
    return s_check_map (message->fields, payload, path, 0, error);
}

proto_code_t
proto_envelope_validate (proto_envelope_t *envelope, unsigned kinds, proto_error_t *error)
{
    assert (envelope);
    const char *type = proto_envelope_type (envelope);
    const proto_message_t *message = proto_message_lookup (type, kinds);
    if (!message)
        return s_fail (error, PROTO_ERR_UNKNOWN_FIELD, "type",
                       "no message '%s' of this kind", type);
    return proto_message_validate (message, proto_envelope_payload_object (envelope),
                                   error);
}
