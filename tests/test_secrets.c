/*  test_secrets: a secret's clear value reaches the action and nowhere
    else (issue 16). A rule's `{{ st2kv.system.NAME | decrypt_kv }}`
    renders a reference (proto/proto_secret.h) that the worker resolves just
    before the process starts; an action parameter marked `secret: true`
    is masked in records, facts and the CLI and sealed in the executor's
    LMDB. Each test greps every LMDB file under the data directory, the
    daemon's log, the facts a subscriber saw, the api's records and the
    CLI's output for the clear text.
*/
#include "tests/testing_api.h"
#include "bus/bus_facts.h"
#include "proto/proto_secret.h"

#include <ftw.h>

static testing_daemon_t s_daemon;

static void
s_teardown (void)
{
    testing_daemon_stop_all ();
}

TestSuite (secrets, .fini = s_teardown, .timeout = 120);

#define S_CLI    ATTUNE_HELPER_DIR "/attune"
#define S_NEEDLE "Needle'S3cr3t-9b7e" //  a quote: the shell-quoted insertion too
#define S_PARAM  "Param-S3cr3t-51d0"

static void
s_pack (void)
{
    testing_daemon_write (&s_daemon, "test/pack.yaml",
                          "ref: test\nname: test\nversion: 1.0.0\n");
    testing_daemon_write (&s_daemon, "test/triggers/hook.yaml",
                          "name: hook\npack: test\n");
    //  The clear value as a shell word of `cmd` and inside text (env)
    testing_daemon_write (
        &s_daemon, "test/rules/secret.yaml",
        "name: secret\npack: test\ntrigger:\n  type: test.hook\n"
        "criteria:\n  trigger.payload.which:\n    type: equals\n    pattern: secret\n"
        "action:\n  ref: core.local\n  parameters:\n"
        "    cmd: >-\n      /bin/sh -c 'printf \"%s|%s\" \"$1\" \"$AUTH\" > \"$2\"' x\n"
        "      {{ st2kv.system.token | decrypt_kv }} {{ trigger.payload.out }}\n"
        "    env:\n      AUTH: \"Bearer {{ st2kv.system.token | decrypt_kv }}\"\n");
    testing_daemon_write (
        &s_daemon, "test/rules/gone.yaml",
        "name: gone\npack: test\ntrigger:\n  type: test.hook\n"
        "criteria:\n  trigger.payload.which:\n    type: equals\n    pattern: gone\n"
        "action:\n  ref: core.local\n  parameters:\n"
        "    cmd: \"echo {{ st2kv.system.no_such_secret | decrypt_kv }}\"\n");
    testing_daemon_write (
        &s_daemon, "test/rules/forge.yaml",
        "name: forge\npack: test\ntrigger:\n  type: test.hook\n"
        "criteria:\n  trigger.payload.which:\n    type: equals\n    pattern: forge\n"
        "action:\n  ref: core.echo\n  parameters:\n"
        "    message: \"{{ trigger.payload.text }}\"\n");
    testing_daemon_write (
        &s_daemon, "test/actions/secretive.yaml",
        "name: secretive\npack: test\nrunner_type: local-shell-cmd\n"
        "entry_point: printf %s \"$ATTUNE_PARAM_PASSWORD\" > \"$ATTUNE_PARAM_OUT\"\n"
        "parameters:\n  password:\n    type: string\n    secret: true\n"
        "    required: true\n  out:\n    type: string\n    required: true\n");
    //  st2kv in parameter defaults: a plain key and a decrypted secret
    testing_daemon_write (
        &s_daemon, "test/actions/defaults.yaml",
        "name: defaults\npack: test\nrunner_type: local-shell-cmd\n"
        "entry_point: printf '%s|%s|%s|%s' \"$ATTUNE_PARAM_URL\" \"$ATTUNE_PARAM_TOKEN\" "
        "\"$ATTUNE_PARAM_API\" \"$ATTUNE_PARAM_PORT\" > \"$ATTUNE_PARAM_OUT\"\n"
        "parameters:\n  url:\n    type: string\n    default: \"{{ st2kv.system.url }}\"\n"
        "  api:\n    type: string\n    default: \"{{ st2kv.system.url }}/api?t={{ token "
        "}}\"\n"
        "  port:\n    type: integer\n    required: true\n    default: \"{{ 8000 + 80 "
        "}}\"\n"
        "  token:\n    type: string\n"
        "    default: \"{{ st2kv.system.token | decrypt_kv }}\"\n"
        "  out:\n    type: string\n    required: true\n");
}

static char *
s_read (const char *path)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return NULL;
    size_t cap = 1 << 16, size = 0, n;
    char *data = (char *)malloc (cap + 1);
    while ((n = fread (data + size, 1, cap - size, file)) > 0) {
        size += n;
        if (size == cap)
            data = (char *)realloc (data, (cap *= 2) + 1);
    }
    fclose (file);
    data[size] = 0;
    return data;
}

static const char *s_needle; //  for s_lmdb_visit
static int s_lmdb_files;

static bool
s_file_has (const char *path, const char *needle)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return false;
    size_t cap = 1 << 20, size = 0, n;
    char *data = (char *)malloc (cap);
    while ((n = fread (data + size, 1, cap - size, file)) > 0) {
        size += n;
        if (size == cap)
            data = (char *)realloc (data, cap *= 2);
    }
    fclose (file);
    bool found = memmem (data, size, needle, strlen (needle)) != NULL;
    free (data);
    return found;
}

static int
s_lmdb_visit (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    size_t n = strlen (path);
    if (flag == FTW_F && n > 4 && streq (path + n - 4, ".mdb")) {
        s_lmdb_files++;
        cr_assert_not (s_file_has (path, s_needle), "the clear secret is in %s", path);
    }
    return 0;
}

//  Every LMDB file under the data directory (every actor's) and the log
static void
s_assert_nowhere (const char *needle)
{
    s_needle = needle;
    s_lmdb_files = 0;
    cr_assert_eq (nftw (s_daemon.data, s_lmdb_visit, 16, FTW_PHYS), 0);
    cr_assert_geq (s_lmdb_files, 4, "LMDB files seen: %d", s_lmdb_files);
    cr_assert_not (s_file_has (s_daemon.log, needle), "the clear secret is in the log");
}

//  Run the CLI (args NULL-terminated after `extra` options); exit code,
//  stdout in *out
static int
s_cli (char **out, const char *const extra[], const char *const args[])
{
    const char *argv[24] = {S_CLI, "--api", s_daemon.api, "--json"};
    int argc = 4;
    for (int i = 0; extra && extra[i]; i++)
        argv[argc++] = extra[i];
    for (int i = 0; args[i]; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    char *err = NULL;
    int rc = testing_run (argv, NULL, out, &err, 20000);
    if (rc != 0 && err) { //  a failure: what it said, after its output
        char *both = zsys_sprintf ("%s%s", *out ? *out : "", err);
        free (*out);
        *out = both;
    }
    free (err);
    return rc;
}

//  Every fact waiting on `sub`, as one text
static char *
s_facts_text (bus_sub_t *sub)
{
    json_t *all = json_array ();
    proto_envelope_t *fact;
    int64_t until = zclock_mono () + 1000; //  heartbeats never stop: a bound
    while (zclock_mono () < until && (fact = bus_sub_recv (sub, NULL, 200))) {
        json_t *payload = proto_envelope_payload_json (fact, NULL);
        json_array_append_new (all, json_pack ("{s:s, s:o?}", "type",
                                               proto_envelope_type (fact), "payload",
                                               payload));
        proto_envelope_destroy (&fact);
    }
    cr_assert_gt (json_array_size (all), 0, "no facts seen");
    char *text = json_dumps (all, JSON_COMPACT);
    json_decref (all);
    return text;
}

//  The newest execution of `rule` once there is one, as the api shows it
static json_t *
s_execution_of (zsock_t *sock, const char *rule, const char *status)
{
    int64_t until = zclock_mono () + 15000;
    while (zclock_mono () < until) {
        json_t *list = testing_api_ok (sock, "api.execution.list",
                                       json_pack ("{s:s}", "rule", rule));
        json_t *first = json_array_get (json_object_get (list, "items"), 0);
        if (first) {
            json_t *record = testing_api_wait_status (
                sock, json_string_value (json_object_get (first, "id")), status, 15000);
            json_decref (list);
            return record;
        }
        json_decref (list);
        zclock_sleep (50);
    }
    cr_assert_fail ("no execution of %s", rule);
    return NULL;
}

//  The newest enforcement of `rule` once there is one
static json_t *
s_enforcement (zsock_t *sock, const char *rule)
{
    int64_t until = zclock_mono () + 10000;
    while (zclock_mono () < until) {
        json_t *list = testing_api_ok (sock, "api.enforcement.list",
                                       json_pack ("{s:s}", "rule", rule));
        json_t *newest = json_array_get (json_object_get (list, "items"), 0);
        if (newest) {
            json_t *full = testing_api_ok (
                sock, "api.enforcement.get",
                json_pack ("{s:O}", "id", json_object_get (newest, "enforcement")));
            json_decref (list);
            return full;
        }
        json_decref (list);
        zclock_sleep (50);
    }
    cr_assert_fail ("no enforcement of %s", rule);
    return NULL;
}

static void
s_publish (zsock_t *sock, json_t *payload)
{
    json_decref (testing_api_ok (
        sock, "api.event.publish",
        json_pack ("{s:s, s:o}", "trigger", "test.hook", "payload", payload)));
}

static char *
s_wait_file (const char *path)
{
    int64_t until = zclock_mono () + 15000;
    char *text;
    while (!(text = s_read (path)) || !*text) {
        free (text);
        cr_assert_lt (zclock_mono (), until, "%s was never written", path);
        zclock_sleep (50);
    }
    return text;
}

Test (secrets, decrypt_kv_reaches_the_action_and_nowhere_else)
{
    testing_daemon_init (&s_daemon, "test_secrets");
    s_pack ();
    testing_daemon_start (&s_daemon, NULL);
    bus_sub_t *sub = bus_sub_new (100000);
    cr_assert_eq (bus_sub_connect (sub, s_daemon.facts), 0);
    cr_assert_eq (bus_sub_subscribe (sub, ""), 0);
    zclock_sleep (300); //  the slow joiner
    char *out;
    const char *set[] = {"key", "set", "token", S_NEEDLE, "--encrypt", NULL};
    cr_assert_eq (s_cli (&out, NULL, set), 0, "%s", out);
    free (out);

    zsock_t *sock = testing_api_client (&s_daemon);
    char file[PATH_MAX + 32], param_file[PATH_MAX + 32];
    snprintf (file, sizeof file, "%s/got", s_daemon.root);
    snprintf (param_file, sizeof param_file, "%s/param", s_daemon.root);
    s_publish (sock, json_pack ("{s:s, s:s}", "which", "secret", "out", file));
    char *got = s_wait_file (file);
    cr_assert_str_eq (got, S_NEEDLE "|Bearer " S_NEEDLE);
    free (got);
    json_t *record = s_execution_of (sock, "test.secret", "completed");
    char *text = json_dumps (record, JSON_COMPACT);
    cr_assert_null (strstr (text, "S3cr3t"), "in the api's record: %s", text);
    const char *env = json_string_value (json_object_get (
        json_object_get (json_object_get (record, "parameters"), "env"), "AUTH"));
    cr_assert (env && strncmp (env, "Bearer " PROTO_SECRET_OPEN, 8 + 8) == 0, "%s", text);
    //  The CLI's view of it
    const char *get[] = {"execution", "get",
                         json_string_value (json_object_get (record, "id")), NULL};
    cr_assert_eq (s_cli (&out, NULL, get), 0, "%s", out);
    cr_assert_null (strstr (out, "S3cr3t"), "in the CLI's output: %s", out);
    free (out);
    free (text);
    json_decref (record);

    //  A secret action parameter: the action gets it, nothing else shows it
    char out_arg[PATH_MAX + 64];
    snprintf (out_arg, sizeof out_arg, "out=%s", param_file);
    const char *run[] = {"run",   "test.secretive", "password=" S_PARAM,
                         out_arg, "--wait",         NULL};
    cr_assert_eq (s_cli (&out, NULL, run), 0, "%s", out);
    cr_assert_null (strstr (out, S_PARAM), "in the CLI's output: %s", out);
    free (out);
    got = s_wait_file (param_file);
    cr_assert_str_eq (got, S_PARAM);
    free (got);

    //  st2kv in defaults: references made at create, resolved at start
    const char *url[] = {"key", "set", "url", "https://example.test", NULL};
    cr_assert_eq (s_cli (&out, NULL, url), 0, "%s", out);
    free (out);
    char defaults_file[PATH_MAX + 32];
    snprintf (defaults_file, sizeof defaults_file, "%s/defaults", s_daemon.root);
    json_t *ran = testing_api_ok (sock, "api.execution.run",
                                  json_pack ("{s:s, s:{s:s}}", "action", "test.defaults",
                                             "parameters", "out", defaults_file));
    record = testing_api_wait_status (
        sock, json_string_value (json_object_get (ran, "execution")), "completed", 15000);
    got = s_wait_file (defaults_file);
    cr_assert_str_eq (got, "https://example.test|" S_NEEDLE
                           "|https://example.test/api?t=" S_NEEDLE "|8080");
    free (got);
    text = json_dumps (record, JSON_COMPACT);
    cr_assert_null (strstr (text, "S3cr3t"), "in the api's record: %s", text);
    free (text);
    json_decref (record);
    json_decref (ran);

    char *facts = s_facts_text (sub);
    cr_assert_null (strstr (facts, "S3cr3t"), "in the facts: %s", facts);
    free (facts);
    bus_sub_destroy (&sub);
    s_assert_nowhere ("S3cr3t");
    testing_daemon_signal (&s_daemon, SIGTERM, 10000);
    s_assert_nowhere ("S3cr3t");
    zsock_destroy (&sock);
}

Test (secrets, a_missing_or_forged_reference_fails_naming_why)
{
    testing_daemon_init (&s_daemon, "test_secrets_missing");
    s_pack ();
    testing_daemon_start (&s_daemon, NULL);
    zsock_t *sock = testing_api_client (&s_daemon);
    //  Unknown when the rule renders: the enforcement fails, naming it
    s_publish (sock, json_pack ("{s:s}", "which", "gone"));
    json_t *failed = s_enforcement (sock, "test.gone");
    char *text = json_dumps (failed, JSON_COMPACT);
    const char *reason = json_string_value (json_object_get (failed, "reason"));
    cr_assert (reason && strstr (reason, "st2kv.system.no_such_secret"), "%s", text);
    free (text);
    json_decref (failed);
    //  Gone when the worker asks (a reference an admin gave): the execution
    //  fails, naming the key
    json_t *run = testing_api_ok (
        sock, "api.execution.run",
        json_pack ("{s:s, s:{s:s}}", "action", "core.local", "parameters", "cmd",
                   "echo " PROTO_SECRET_OPEN "0123456789abcdef0123456789abcdef:system:"
                   "vanished\x1e"));
    json_t *record = testing_api_wait_status (
        sock, json_string_value (json_object_get (run, "execution")), "failed", 15000);
    text = json_dumps (record, JSON_COMPACT);
    cr_assert (strstr (text, "st2kv.system.vanished"), "%s", text);
    free (text);
    json_decref (record);
    json_decref (run);
    //  A reference in an event's payload, rendered by a rule: refused
    s_publish (sock, json_pack ("{s:s, s:s}", "which", "forge", "text",
                                PROTO_SECRET_OPEN "0123456789abcdef0123456789abcdef:"
                                                  "system:token\x1e"));
    failed = s_enforcement (sock, "test.forge");
    text = json_dumps (failed, JSON_COMPACT);
    reason = json_string_value (json_object_get (failed, "reason"));
    cr_assert (reason && strstr (reason, "secret reference"), "%s", text);
    free (text);
    json_decref (failed);
    zsock_destroy (&sock);
}

//  ---------------------------------------------------------------------------
//  Through a CURVE api: roles from the keys (as test_datastore_daemon)

static char s_keys[PATH_MAX], s_allow[PATH_MAX], s_core_public[64];

static void
s_curve_key (const char *name, const char *role)
{
    const char *argv[] = {S_CLI, "keygen", name, "--dir", s_keys, "--role", role, NULL};
    if (!role)
        argv[5] = NULL;
    char *out = NULL;
    cr_assert_eq (testing_run (argv, NULL, &out, NULL, 20000), 0, "keygen %s: %s", name,
                  out);
    free (out);
    char from[PATH_MAX + 64], to[PATH_MAX + 64];
    snprintf (from, sizeof from, "%s/%s.cert", s_keys, name);
    snprintf (to, sizeof to, "%s/%s.cert", s_allow, name);
    zcert_t *cert = zcert_load (from);
    cr_assert_not_null (cert);
    cr_assert_eq (zcert_save_public (cert, to), 0);
    if (streq (name, "core"))
        snprintf (s_core_public, sizeof s_core_public, "%s", zcert_public_txt (cert));
    zcert_destroy (&cert);
}

//  The CLI as `name` over CURVE; exit code, stdout in *out
static int
s_cli_as (const char *name, char **out, const char *const args[])
{
    char cert[PATH_MAX + 64], server[PATH_MAX + 64];
    snprintf (cert, sizeof cert, "%s/%s.cert_secret", s_keys, name);
    snprintf (server, sizeof server, "%s/core.cert", s_keys);
    const char *extra[] = {"--cert", cert, "--server-cert", server, NULL};
    return s_cli (out, extra, args);
}

Test (secrets, secret_parameters_are_masked_for_operators_and_viewers)
{
    testing_daemon_init (&s_daemon, "test_secrets_curve");
    s_pack ();
    snprintf (s_keys, sizeof s_keys, "%s/keys", s_daemon.root);
    snprintf (s_allow, sizeof s_allow, "%s/allow", s_daemon.root);
    cr_assert_eq (mkdir (s_keys, 0700), 0);
    cr_assert_eq (mkdir (s_allow, 0750), 0);
    s_curve_key ("core", NULL);
    s_curve_key ("olga", "operator");
    s_curve_key ("vic", "viewer");
    char core[PATH_MAX + 64];
    snprintf (core, sizeof core, "%s/core.cert_secret", s_keys);
    const char *extra[] = {"--cert",          core,     "--allow", s_allow,
                           "--security-mode", "always", NULL};
    testing_daemon_start (&s_daemon, extra);

    char file[PATH_MAX + 32], out_arg[PATH_MAX + 64];
    snprintf (file, sizeof file, "%s/param", s_daemon.root);
    snprintf (out_arg, sizeof out_arg, "out=%s", file);
    char *out;
    const char *run[] = {"run",   "test.secretive", "password=" S_PARAM,
                         out_arg, "--wait",         NULL};
    cr_assert_eq (s_cli_as ("olga", &out, run), 0, "%s", out);
    json_t *ran = json_loads (out, 0, NULL);
    cr_assert_null (strstr (out, S_PARAM), "in the CLI's output: %s", out);
    free (out);
    const char *id = json_string_value (json_object_get (ran, "id"))
                         ?: json_string_value (json_object_get (ran, "execution"));
    cr_assert_not_null (id);
    char *got = s_wait_file (file);
    cr_assert_str_eq (got, S_PARAM, "the action gets the clear value");
    free (got);
    const char *who[] = {"olga", "vic"};
    for (int i = 0; i < 2; i++) {
        const char *get[] = {"execution", "get", id, NULL};
        cr_assert_eq (s_cli_as (who[i], &out, get), 0, "%s", out);
        json_t *record = json_loads (out, 0, NULL);
        cr_assert_str_eq (json_string_value (json_object_get (
                              json_object_get (record, "parameters"), "password")),
                          "********", "%s sees: %s", who[i], out);
        json_decref (record);
        free (out);
    }
    json_decref (ran);
    //  A secret reference from an operator would be resolved with the
    //  datastore's rights: refused
    const char *forged[] = {"run", "core.local",
                            "cmd=echo " PROTO_SECRET_OPEN
                            "0123456789abcdef0123456789abcdef:system:token\x1e",
                            NULL};
    cr_assert_neq (s_cli_as ("olga", &out, forged), 0, "%s", out);
    cr_assert (strstr (out, "secret reference"), "%s", out);
    free (out);
    s_assert_nowhere (S_PARAM);
    testing_daemon_signal (&s_daemon, SIGTERM, 10000);
    s_assert_nowhere (S_PARAM);
}
