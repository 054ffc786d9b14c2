/*  executor_record: the stored form of an execution.

    A record is a msgpack map with string keys: id, action, runner,
    parameters, status, enforcement, rule, event, worker, requested, started,
    ended, result, log [{status, ts}], and whatever other keys a writer added
    (kept as they are when the record is written back). Stores written before
    this format hold JSON text; both are read (executor_record_decode).

    executor_record_t is a view of one record for the executor's hot path:
    its fields are msgpack objects pointing into a copy of the stored bytes,
    into its zone, or into strings the caller keeps alive until the record is
    packed. Reading a record, changing it and packing it again takes no JSON
    and allocates nothing once the buffers have grown. One view per actor;
    each read or clear invalidates what the previous one pointed to.
*/
#ifndef EXECUTOR_RECORD_H_INCLUDED
#define EXECUTOR_RECORD_H_INCLUDED

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    EXECUTOR_RECORD_ID,
    EXECUTOR_RECORD_ACTION,
    EXECUTOR_RECORD_RUNNER,
    EXECUTOR_RECORD_PARAMETERS,
    EXECUTOR_RECORD_STATUS,
    EXECUTOR_RECORD_ENFORCEMENT,
    EXECUTOR_RECORD_RULE,
    EXECUTOR_RECORD_EVENT,
    EXECUTOR_RECORD_WORKER,
    EXECUTOR_RECORD_REQUESTED,
    EXECUTOR_RECORD_STARTED,
    EXECUTOR_RECORD_ENDED,
    EXECUTOR_RECORD_RESULT,
    EXECUTOR_RECORD_LOG,
    EXECUTOR_RECORD_FIELDS
} executor_record_field_t;

#define EXECUTOR_RECORD_EXTRA  32 //  other keys kept
#define EXECUTOR_RECORD_APPEND 4  //  log entries added before one pack

typedef struct {
    msgpack_object field[EXECUTOR_RECORD_FIELDS];
    bool has[EXECUTOR_RECORD_FIELDS];
    msgpack_object_kv extra[EXECUTOR_RECORD_EXTRA];
    size_t nextra;
    struct {
        const char *status; //  static status name
        int64_t ts;
    } append[EXECUTOR_RECORD_APPEND];
    size_t nappend;
    msgpack_zone zone; //  a copy of the bytes read and their objects
} executor_record_t;

void executor_record_init (executor_record_t *self);
void executor_record_release (executor_record_t *self);

//  Start an empty record (no field present).
void executor_record_clear (executor_record_t *self);

//  Read a stored record (msgpack, or JSON text from older stores). 0, or -1
//  when it is neither (or a field has the wrong type: status, log).
int executor_record_read (executor_record_t *self, const void *data, size_t size);

//  The field, or NULL when absent.
const msgpack_object *executor_record_get (const executor_record_t *self,
                                           executor_record_field_t field);
//  Another key's value (one a writer added: parent, retry_count ...), or NULL.
const msgpack_object *executor_record_extra (const executor_record_t *self,
                                             const char *key);
//  A string field as text in `out` (size bytes); "" when absent or not a
//  string. Returns out.
const char *executor_record_text (const executor_record_t *self,
                                  executor_record_field_t field, char *out, size_t size);

//  Setters. A string must stay valid until the record is packed.
void executor_record_set (executor_record_t *self, executor_record_field_t field,
                          const msgpack_object *value);
void executor_record_set_str (executor_record_t *self, executor_record_field_t field,
                              const char *text);
void executor_record_set_int (executor_record_t *self, executor_record_field_t field,
                              int64_t value);
void executor_record_set_nil (executor_record_t *self, executor_record_field_t field);
//  A value given as packed msgpack bytes (one value): unpacked into the
//  record's zone. 0, or -1 when the bytes are not one value.
int executor_record_set_packed (executor_record_t *self, executor_record_field_t field,
                                const void *data, size_t size);
//  Another key (a static string) with a value given as packed msgpack bytes
//  (unpacked into the record's zone). 0, or -1 when full or not one value.
int executor_record_set_extra_packed (executor_record_t *self, const char *key,
                                      const void *data, size_t size);
//  Another key (a static string) with its value. 0, or -1 when full.
int executor_record_set_extra (executor_record_t *self, const char *key,
                               const msgpack_object *value);
//  New status (a static name) with its log entry.
void executor_record_set_status (executor_record_t *self, const char *status, int64_t ts);

//  Pack the record as stored. 0, or -1 (out of memory).
int executor_record_pack (const executor_record_t *self, msgpack_packer *pk);

//  Pack one msgpack string.
void executor_record_pack_str (msgpack_packer *pk, const char *text);

#ifdef __cplusplus
}
#endif

#endif
