/*  test_proto_messages: the message table (proto/proto_messages.h) and
    proto/PROTOCOL.md agree, and the table's validator checks payloads.

    The page is parsed as it stands: every markdown table whose first column
    is headed `type` or `reply type` is a registry table, and the
    backquoted names in its first column are message types. The test
    checks both ways (every type in the page is in the table, every type in
    the table is in the page), that a `kind` column matches the table's
    kind, and that every payload field of a row is named in the page's row.
*/
#include <criterion/criterion.h>
#include <czmq.h>
#include "proto/proto_messages.h"

#define S_TYPES_MAX 256

typedef struct {
    char type[128];
    unsigned kind; //  the kind the page says (a kind column; else by table)
    char row[4096];
} s_doc_type_t;

typedef struct {
    s_doc_type_t types[S_TYPES_MAX];
    size_t count;
} s_doc_t;

//  The cells of a markdown table row, trimmed (at most `max`)
static size_t
s_cells (const char *line, char cells[][4096], size_t max)
{
    size_t n = 0;
    const char *p = strchr (line, '|');
    while (p && n < max) {
        const char *end = strchr (p + 1, '|');
        while (end && end[-1] == '\\')
            end = strchr (end + 1, '|');
        if (!end)
            break;
        const char *a = p + 1, *b = end;
        while (a < b && *a == ' ')
            a++;
        while (b > a && b[-1] == ' ')
            b--;
        snprintf (cells[n++], 4096, "%.*s", (int)(b - a), a);
        p = end;
    }
    return n;
}

static unsigned
s_kind_of (const char *text)
{
    if (strstr (text, "command"))
        return PROTO_MESSAGE_COMMAND;
    if (strstr (text, "fact"))
        return PROTO_MESSAGE_FACT;
    if (strstr (text, "request"))
        return PROTO_MESSAGE_REQUEST;
    if (strstr (text, "reply"))
        return PROTO_MESSAGE_REPLY;
    return 0;
}

//  Add every `a.b.c` of a first cell as a type of `kind`, with the row text
static void
s_add_types (s_doc_t *doc, const char *cell, unsigned kind, const char *row)
{
    const char *p = cell;
    while ((p = strchr (p, '`'))) {
        const char *end = strchr (p + 1, '`');
        if (!end)
            break;
        char name[128];
        snprintf (name, sizeof name, "%.*s", (int)(end - p - 1), p + 1);
        p = end + 1;
        bool valid = strchr (name, '.') && !strchr (name, '*');
        for (const char *c = name; *c && valid; c++)
            valid = (*c >= 'a' && *c <= 'z') || *c == '.' || *c == '_';
        cr_assert (valid, "PROTOCOL.md: '%s' in a registry table is not a type", name);
        cr_assert_lt (doc->count, S_TYPES_MAX);
        s_doc_type_t *t = &doc->types[doc->count++];
        snprintf (t->type, sizeof t->type, "%s", name);
        t->kind = kind;
        snprintf (t->row, sizeof t->row, "%s", row);
    }
}

static void
s_parse (s_doc_t *doc)
{
    char path[1024];
    snprintf (path, sizeof path, "%s/proto/PROTOCOL.md", ATTUNE_SOURCE_DIR);
    FILE *file = fopen (path, "r");
    cr_assert_not_null (file, "%s", path);
    static char line[16384];
    static char cells[8][4096];
    int kind_column = -1; //  in a registry table: the column of `kind`
    bool in_table = false, reply_table = false;
    while (fgets (line, sizeof line, file)) {
        if (line[0] != '|') {
            in_table = false;
            continue;
        }
        size_t n = s_cells (line, cells, 8);
        if (!in_table && n > 0 &&
            (streq (cells[0], "type") || streq (cells[0], "reply type"))) {
            in_table = true;
            reply_table = streq (cells[0], "reply type");
            kind_column = -1;
            for (size_t i = 0; i < n; i++)
                if (streq (cells[i], "kind"))
                    kind_column = (int)i;
            if (!fgets (line, sizeof line, file)) //  the |---| line
                break;
            continue;
        }
        if (!in_table || n == 0)
            continue;
        unsigned kind = reply_table ? PROTO_MESSAGE_REPLY : PROTO_MESSAGE_REQUEST;
        if (kind_column >= 0 && (size_t)kind_column < n)
            kind = s_kind_of (cells[kind_column]);
        cr_assert_neq (kind, 0, "PROTOCOL.md: no kind in the row of %s", cells[0]);
        const char *rest = strchr (line + 1, '|'); //  the row after its first cell
        s_add_types (doc, cells[0], kind, rest ? rest : "");
    }
    fclose (file);
    cr_assert_gt (doc->count, 50, "the registry tables were found (%zu types)",
                  doc->count);
}

static s_doc_t s_doc;

Test (proto_messages, the_page_lists_every_type_of_the_table)
{
    s_parse (&s_doc);
    for (size_t i = 0; i < proto_message_count (); i++) {
        const proto_message_t *m = proto_message_at (i);
        bool found = false;
        for (size_t d = 0; d < s_doc.count && !found; d++)
            found =
                streq (s_doc.types[d].type, m->type) && s_doc.types[d].kind == m->kind;
        cr_expect (found,
                   "%s (%s) is in proto_messages.c but not in PROTOCOL.md's registry",
                   m->type, proto_message_kind_name (m->kind));
    }
}

Test (proto_messages, the_table_has_every_type_of_the_page)
{
    s_parse (&s_doc);
    for (size_t d = 0; d < s_doc.count; d++) {
        const proto_message_t *m =
            proto_message_lookup (s_doc.types[d].type, s_doc.types[d].kind);
        cr_expect_not_null (
            m, "%s (%s) is in PROTOCOL.md but not in proto_messages.c",
            s_doc.types[d].type,
            proto_message_kind_name ((proto_message_kind_t)s_doc.types[d].kind));
    }
}

//  "`name`", "`name:" or "`name " somewhere in `row`
static bool
s_names (const char *row, const char *name)
{
    char needle[160];
    snprintf (needle, sizeof needle, "`%s", name);
    for (const char *p = strstr (row, needle); p; p = strstr (p + 1, needle)) {
        char next = p[strlen (needle)];
        if (next == '`' || next == ':' || next == ' ')
            return true;
    }
    return false;
}

Test (proto_messages, the_page_names_every_payload_field)
{
    s_parse (&s_doc);
    for (size_t d = 0; d < s_doc.count; d++) {
        const proto_message_t *m =
            proto_message_lookup (s_doc.types[d].type, s_doc.types[d].kind);
        if (!m)
            continue; //  reported above
        for (const proto_field_t *f = m->fields; f->name; f++)
            cr_expect (s_names (s_doc.types[d].row, f->name),
                       "PROTOCOL.md: the row of %s does not name its field `%s`", m->type,
                       f->name);
    }
}

Test (proto_messages, every_type_is_once_per_kind)
{
    for (size_t i = 0; i < proto_message_count (); i++)
        for (size_t j = i + 1; j < proto_message_count (); j++) {
            const proto_message_t *a = proto_message_at (i), *b = proto_message_at (j);
            cr_expect (!(streq (a->type, b->type) && a->kind == b->kind), "%s twice",
                       a->type);
        }
    cr_assert_null (proto_message_at (proto_message_count ()));
}

//  ---------------------------------------------------------------------------
//  The validator

//  An envelope of `type` whose payload is `json` (a JSON object text)
static proto_envelope_t *
s_envelope (const char *type, const char *json)
{
    proto_envelope_t *envelope = proto_envelope_new (type, "test@proto");
    json_t *payload = json_loads (json, 0, NULL);
    cr_assert_not_null (payload, "%s", json);
    cr_assert_eq (proto_envelope_set_payload_json (envelope, payload, NULL), PROTO_OK);
    json_decref (payload);
    return envelope;
}

static void
s_expect (const char *type, unsigned kinds, const char *json, proto_code_t code,
          const char *message)
{
    proto_envelope_t *envelope = s_envelope (type, json);
    proto_error_t error = {0};
    proto_code_t got = proto_envelope_validate (envelope, kinds, &error);
    cr_expect_eq (got, code, "%s %s: %s (%s)", type, json, proto_code_name (got),
                  error.message);
    if (message)
        cr_expect_str_eq (error.message, message);
    proto_envelope_destroy (&envelope);
}

Test (proto_messages, validates_payloads_naming_the_field)
{
    unsigned cmd = PROTO_MESSAGE_COMMAND, ask = PROTO_MESSAGE_REQUEST;
    s_expect ("event.create", cmd, "{\"trigger\": \"a.b\", \"payload\": {}}", PROTO_OK,
              NULL);
    s_expect ("event.create", cmd, "{\"payload\": {}}", PROTO_ERR_MISSING,
              "trigger: required (str)");
    s_expect ("event.create", cmd, "{\"trigger\": 3}", PROTO_ERR_FIELD_TYPE,
              "trigger: expected str, got int");
    s_expect ("event.create", cmd, "{\"trigger\": \"a\"}", PROTO_ERR_MISSING,
              "payload: required (map)");
    s_expect ("event.create", cmd,
              "{\"trigger\": \"a\", \"payload\": {}, \"trigger_parameters\": null}",
              PROTO_OK, NULL);
    s_expect ("event.create", cmd, "{\"trigger\": \"\"}", PROTO_ERR_FIELD_TYPE,
              "trigger: 0 bytes, at least 1");
    s_expect ("event.create", cmd, "{\"trigger\": \"a\", \"payload\": [1]}",
              PROTO_ERR_FIELD_TYPE, "payload: expected map, got array");
    //  Unknown fields are allowed (readers ignore them)
    s_expect ("event.create", cmd, "{\"trigger\": \"a\", \"payload\": {}, \"extra\": 1}",
              PROTO_OK, NULL);
    //  The wrong kind is not found
    s_expect ("event.create", ask, "{\"trigger\": \"a\"}", PROTO_ERR_UNKNOWN_FIELD,
              "type: no message 'event.create' of this kind");
    //  Nested maps and array elements are named by path
    s_expect ("execution.dispatch", cmd,
              "{\"execution\": \"0190f0c2-2c4e-7a8b-9c0d-1e2f3a4b5c6d\", "
              "\"action\": {\"ref\": \"a.b\", \"runner_type\": 7}, \"parameters\": {}}",
              PROTO_ERR_FIELD_TYPE, "action.runner_type: expected str, got int");
    //  The executor's facts name executions by UUID; commands by the ids
    //  their receivers hold (a worker takes up to 44 bytes)
    s_expect ("execution.completed", PROTO_MESSAGE_FACT,
              "{\"execution\": \"nope\", \"action\": \"a.b\", \"status\": \"completed\"}",
              PROTO_ERR_FIELD_TYPE,
              "execution: expected a UUID string, got another string");
    s_expect ("execution.cancel", cmd, "{\"execution\": \"job-1\"}", PROTO_OK, NULL);
    //  An action without a timeout is dispatched with timeout nil
    s_expect ("execution.dispatch", cmd,
              "{\"execution\": \"job-1\", \"action\": {\"ref\": \"a.b\", "
              "\"runner_type\": \"noop\", \"timeout\": null}, \"parameters\": {}}",
              PROTO_OK, NULL);
    s_expect ("execution.cancel", cmd,
              "{\"execution\": \"0123456789012345678901234567890123456789012345\"}",
              PROTO_ERR_FIELD_TYPE, NULL);
    s_expect ("worker.register", cmd,
              "{\"worker\": \"w\", \"instance\": 1, \"endpoint\": \"e\", "
              "\"runtimes\": [\"shell\", 4], \"slots\": 2}",
              PROTO_ERR_FIELD_TYPE, "runtimes[1]: expected str, got int");
    s_expect ("worker.register", cmd,
              "{\"worker\": \"w\", \"instance\": -1, \"endpoint\": \"e\", "
              "\"runtimes\": [], \"slots\": 2}",
              PROTO_ERR_FIELD_TYPE, "instance: expected uint, got int");
    //  Nil where allowed, and limits on integers
    s_expect ("api.execution.changes", ask, "{\"publisher\": null, \"limit\": 5}",
              PROTO_OK, NULL);
    s_expect ("api.execution.changes", ask, "{\"limit\": 5000}", PROTO_ERR_FIELD_TYPE,
              "limit: 5000, at most 1000");
    s_expect ("api.rule.enable", ask, "{\"ref\": null}", PROTO_ERR_FIELD_TYPE,
              "ref: expected str, got nil");
    s_expect ("api.inquiry.respond", ask, "{\"id\": \"x\", \"response\": null}", PROTO_OK,
              NULL);
}

Test (proto_messages, a_payload_that_is_not_a_map)
{
    const proto_message_t *m = proto_message_lookup ("api.ping", PROTO_MESSAGE_ANY);
    cr_assert_not_null (m);
    msgpack_object array = {.type = MSGPACK_OBJECT_ARRAY};
    proto_error_t error;
    cr_assert_eq (proto_message_validate (m, &array, &error), PROTO_ERR_NOT_MAP);
    cr_assert_str_eq (error.message, "payload: expected map, got array");
    cr_assert_eq (proto_message_validate (m, NULL, NULL), PROTO_ERR_NOT_MAP);
    cr_assert_null (proto_message_lookup ("no.such", PROTO_MESSAGE_ANY));
    cr_assert_null (proto_message_lookup (NULL, PROTO_MESSAGE_ANY));
}
