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
static pid_t s_worker_pid; //  a worker-only attuned (the split tests)

static void
s_teardown (void)
{
    if (s_worker_pid > 0) {
        kill (s_worker_pid, SIGKILL);
        waitpid (s_worker_pid, NULL, 0);
    }
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
    json_t *secretive = json_loads (out, 0, NULL);
    free (out);
    got = s_wait_file (param_file);
    cr_assert_str_eq (got, S_PARAM);
    free (got);
    //  Loopback without CURVE trusts its clients as admins: the clear value
    //  when asked (--show-secrets), in that reply only (facts, log: below)
    const char *sid = json_string_value (json_object_get (secretive, "id"))
                          ?: json_string_value (json_object_get (secretive, "execution"));
    cr_assert_not_null (sid);
    const char *show[] = {"execution", "get", sid, "--show-secrets", NULL};
    cr_assert_eq (s_cli (&out, NULL, show), 0, "%s", out);
    json_t *shown = json_loads (out, 0, NULL);
    cr_assert_str_eq (json_string_value (json_object_get (
                          json_object_get (shown, "parameters"), "password")),
                      S_PARAM, "%s", out);
    json_decref (shown);
    free (out);
    const char *masked[] = {"execution", "get", sid, NULL};
    cr_assert_eq (s_cli (&out, NULL, masked), 0, "%s", out);
    cr_assert_null (strstr (out, S_PARAM), "without --show-secrets: %s", out);
    free (out);
    json_decref (secretive);

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
static char s_commands[64]; //  the core's executor.commands (split tests)

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
    s_curve_key ("ada", "admin");
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
    //  Masked for everyone by default; --show-secrets opens them for an
    //  admin only, anyone else still sees ******** (StackStorm's way)
    const char *who[] = {"olga", "vic", "ada", "olga", "vic", "ada"};
    for (int i = 0; i < 6; i++) {
        const char *get[] = {"execution", "get", id, i >= 3 ? "--show-secrets" : NULL,
                             NULL};
        cr_assert_eq (s_cli_as (who[i], &out, get), 0, "%s", out);
        json_t *record = json_loads (out, 0, NULL);
        cr_assert_str_eq (json_string_value (json_object_get (
                              json_object_get (record, "parameters"), "password")),
                          i == 5 ? S_PARAM : "********", "%s (%s) sees: %s", who[i],
                          i >= 3 ? "--show-secrets" : "default", out);
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

//  ---------------------------------------------------------------------------
//  datastore.query between hosts (CURVE): only named keys decrypt

//  A DEALER with the key `name` to `endpoint`
static zsock_t *
s_peer (const char *name, const char *endpoint)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    zsock_set_linger (sock, 0);
    testing_curve_client (sock, s_keys, name, s_core_public);
    cr_assert_eq (zsock_connect (sock, "%s", endpoint), 0);
    return sock;
}

//  The value of key `name` as `sock` gets it (decrypt or not)
static char *
s_value_as (zsock_t *sock, const char *name, bool decrypt)
{
    json_t *key = testing_api_ok (
        sock, "api.key.get", json_pack ("{s:s, s:b}", "name", name, "decrypt", decrypt));
    char *value = strdup (json_string_value (json_object_get (key, "value")));
    json_decref (key);
    return value;
}

//  The core's endpoints on tcp (CURVE), its worker certs directory; w1 a
//  worker host's key, s1 a sensor host's, ada an admin through the api
static void
s_start_split (char *datastore, char *executor, size_t size, const char *actors)
{
    testing_daemon_init (&s_daemon, "test_secrets_peers");
    s_pack ();
    char workers[PATH_MAX + 16], from[PATH_MAX + 64], to[PATH_MAX + 64];
    snprintf (s_keys, sizeof s_keys, "%s/keys", s_daemon.root);
    snprintf (s_allow, sizeof s_allow, "%s/allow", s_daemon.root);
    snprintf (workers, sizeof workers, "%s/workers", s_daemon.root);
    cr_assert_eq (mkdir (s_keys, 0700), 0);
    cr_assert_eq (mkdir (s_allow, 0750), 0);
    cr_assert_eq (mkdir (workers, 0750), 0);
    const char *names[] = {"core", "w1", "s1", "ada"};
    for (int i = 0; i < 4; i++)
        s_curve_key (names[i], i == 3 ? "admin" : NULL);
    snprintf (from, sizeof from, "%s/w1.cert", s_allow);
    snprintf (to, sizeof to, "%s/w1.cert", workers);
    zcert_t *cert = zcert_load (from);
    cr_assert_eq (zcert_save_public (cert, to), 0);
    zcert_destroy (&cert);
    snprintf (datastore, size, "tcp://127.0.0.1:%d", testing_free_port ());
    snprintf (executor, size, "tcp://127.0.0.1:%d", testing_free_port ());
    char text[512], config[PATH_MAX + 16], core[PATH_MAX + 64];
    snprintf (s_commands, sizeof s_commands, "tcp://127.0.0.1:%d", testing_free_port ());
    snprintf (text, sizeof text,
              "daemon\n    actors = %s\nendpoints\n    datastore.query = %s\n"
              "    executor.query = %s\n    executor.commands = %s\n",
              actors, datastore, executor, s_commands);
    testing_write (s_daemon.root, "core.cfg", text);
    snprintf (config, sizeof config, "%s/core.cfg", s_daemon.root);
    snprintf (core, sizeof core, "%s/core.cert_secret", s_keys);
    const char *extra[] = {
        "--cert",          core,     "--allow",        s_allow, "-c", config,
        "--security-mode", "always", "--worker-certs", workers, NULL};
    testing_daemon_start (&s_daemon, extra);
}

Test (secrets, only_named_keys_decrypt_at_the_datastore)
{
    char datastore[64], executor[64];
    s_start_split (datastore, executor, sizeof datastore,
                   "registry,executor,rules,datastore,api,worker");
    zsock_t *ada = s_peer ("ada", s_daemon.api);
    json_decref (testing_api_ok (
        ada, "api.key.set",
        json_pack ("{s:s, s:s, s:b}", "name", "token", "value", S_NEEDLE, "secret", 1)));
    json_decref (testing_api_ok (
        ada, "api.key.set", json_pack ("{s:s, s:s}", "name", "plain", "value", "hello")));

    //  A worker host's key (--worker-certs) resolves a secret; it only reads
    zsock_t *w1 = s_peer ("w1", datastore);
    char *value = s_value_as (w1, "token", true);
    cr_assert_str_eq (value, S_NEEDLE);
    free (value);
    testing_api_fails (w1, "api.key.set",
                       json_pack ("{s:s, s:s}", "name", "plain", "value", "x"),
                       "forbidden");
    testing_api_fails (w1, "api.key.get",
                       json_pack ("{s:s, s:b, s:{s:s, s:s}}", "name", "token", "decrypt",
                                  1, "caller", "identity", "w1", "role", "admin"),
                       "forbidden");
    //  Another admitted key (a sensor host's): reads as a viewer, never
    //  decrypts, never names a caller (before, it was taken as an admin)
    zsock_t *s1 = s_peer ("s1", datastore);
    testing_api_fails (s1, "api.key.get",
                       json_pack ("{s:s, s:b}", "name", "token", "decrypt", 1),
                       "forbidden");
    testing_api_fails (s1, "api.key.list", json_pack ("{s:b}", "decrypt", 1),
                       "forbidden");
    testing_api_fails (s1, "api.key.get",
                       json_pack ("{s:s, s:{s:s, s:s}}", "name", "token", "caller",
                                  "identity", "ada", "role", "admin"),
                       "forbidden");
    testing_api_fails (s1, "api.key.set",
                       json_pack ("{s:s, s:s}", "name", "plain", "value", "x"),
                       "forbidden");
    testing_api_fails (s1, "api.key.rotate", json_object (), "forbidden");
    value = s_value_as (s1, "token", false);
    cr_assert_str_eq (value, "********");
    free (value);
    value = s_value_as (s1, "plain", false);
    cr_assert_str_eq (value, "hello");
    free (value);
    json_t *list = testing_api_ok (s1, "api.key.list", json_object ());
    cr_assert_eq (json_array_size (json_object_get (list, "items")), 2);
    json_decref (list);
    //  The process's own key (its api, rules and worker) is served as before
    zsock_t *core = s_peer ("core", datastore);
    value = s_value_as (core, "token", true);
    cr_assert_str_eq (value, S_NEEDLE);
    free (value);

    //  The executor: show_secrets from another peer's key stays masked
    char file[PATH_MAX + 32];
    snprintf (file, sizeof file, "%s/param", s_daemon.root);
    json_t *ran =
        testing_api_ok (ada, "api.execution.run",
                        json_pack ("{s:s, s:{s:s, s:s}}", "action", "test.secretive",
                                   "parameters", "password", S_PARAM, "out", file));
    const char *id = json_string_value (json_object_get (ran, "execution"));
    json_decref (testing_api_wait_status (ada, id, "completed", 15000));
    zsock_t *peer = s_peer ("s1", executor);
    json_t *record = testing_api_ok (
        peer, "api.execution.get", json_pack ("{s:s, s:b}", "id", id, "show_secrets", 1));
    cr_assert_str_eq (json_string_value (json_object_get (
                          json_object_get (record, "parameters"), "password")),
                      "********");
    json_decref (record);
    record = testing_api_ok (ada, "api.execution.get",
                             json_pack ("{s:s, s:b}", "id", id, "show_secrets", 1));
    cr_assert_str_eq (json_string_value (json_object_get (
                          json_object_get (record, "parameters"), "password")),
                      S_PARAM);
    json_decref (record);
    json_decref (ran);
    //  The worker of the core process still resolves decrypt_kv over tcp
    char got_file[PATH_MAX + 32];
    snprintf (got_file, sizeof got_file, "%s/got", s_daemon.root);
    s_publish (ada, json_pack ("{s:s, s:s}", "which", "secret", "out", got_file));
    char *got = s_wait_file (got_file);
    cr_assert_str_eq (got, S_NEEDLE "|Bearer " S_NEEDLE);
    free (got);
    cr_assert (testing_daemon_wait_log (&s_daemon,
                                        "refused api.key.get from the peer key", 5000));
    s_assert_nowhere (S_PARAM);
    s_assert_nowhere ("S3cr3t");
    zsock_destroy (&peer);
    zsock_destroy (&core);
    zsock_destroy (&s1);
    zsock_destroy (&w1);
    zsock_destroy (&ada);
}

//  A worker-only attuned with the key `name` (started, asserted), as a
//  worker host runs it: its own cert, the core's as server and executor
static void
s_worker_start (const char *name, const char *datastore)
{
    char cfg[PATH_MAX + 32], log[PATH_MAX + 32], data[PATH_MAX + 32], cert[PATH_MAX + 64],
        core[PATH_MAX + 64], text[2 * PATH_MAX], file[64];
    snprintf (cfg, sizeof cfg, "%s/%s.cfg", s_daemon.root, name);
    snprintf (log, sizeof log, "%s/%s.log", s_daemon.root, name);
    snprintf (data, sizeof data, "%s/%s", s_daemon.root, name);
    snprintf (cert, sizeof cert, "%s/%s.cert_secret", s_keys, name);
    snprintf (core, sizeof core, "%s/core.cert", s_keys);
    snprintf (text, sizeof text,
              "daemon\n    actors = worker\n    data = %s\n    worker\n"
              "        name = %s\nbus\n    namespace = %s\nendpoints\n"
              "    datastore.query = %s\n    executor.commands = %s\n"
              "    worker = tcp://127.0.0.1:%d\n",
              data, name, name, datastore, s_commands, testing_free_port ());
    snprintf (file, sizeof file, "%s.cfg", name);
    testing_write (s_daemon.root, file, text);
    pid_t pid = fork ();
    cr_assert_geq (pid, 0);
    if (pid == 0) {
        int fd = open (log, O_WRONLY | O_CREAT | O_TRUNC, 0640);
        dup2 (fd, 1);
        dup2 (fd, 2);
        const char *argv[] = {ATTUNE_HELPER_DIR "/attuned",
                              "-c",
                              cfg,
                              "--cert",
                              cert,
                              "--server-cert",
                              core,
                              "--executor-cert",
                              core,
                              "--security-mode",
                              "always",
                              "--heartbeat",
                              "200",
                              NULL};
        execv (argv[0], (char *const *)argv);
        _exit (127);
    }
    s_worker_pid = pid;
    int64_t until = zclock_mono () + 20000;
    while (!s_file_has (log, "attuned: running")) {
        cr_assert_lt (zclock_mono (), until, "%s did not start", name);
        cr_assert_eq (waitpid (pid, NULL, WNOHANG), 0, "%s died", name);
        zclock_sleep (20);
    }
}

//  Wait until the executor lists worker `name` as alive and not draining
//  (`alive`), or not (gone, dead or draining)
static void
s_worker_wait (zsock_t *sock, const char *name, bool alive)
{
    int64_t until = zclock_mono () + 15000;
    while (true) {
        json_t *list = testing_api_ok (sock, "api.worker.list", NULL);
        bool seen = false;
        size_t i;
        json_t *item;
        json_array_foreach (json_object_get (list, "items"), i, item)
        {
            if (streq (json_string_value (json_object_get (item, "worker")), name) &&
                json_is_true (json_object_get (item, "alive")) &&
                !json_is_true (json_object_get (item, "draining")))
                seen = true;
        }
        json_decref (list);
        if (seen == alive)
            return;
        cr_assert_lt (zclock_mono (), until, "worker %s never became %s", name,
                      alive ? "alive" : "gone");
        zclock_sleep (50);
    }
}

//  Publish the event of rule test.secret writing to `file`; its execution
//  once it has `status`
static json_t *
s_secret_run (zsock_t *sock, const char *file, const char *status)
{
    s_publish (sock, json_pack ("{s:s, s:s}", "which", "secret", "out", file));
    int64_t until = zclock_mono () + 15000;
    while (zclock_mono () < until) {
        json_t *list = testing_api_ok (sock, "api.execution.list",
                                       json_pack ("{s:s}", "rule", "test.secret"));
        size_t i;
        json_t *item;
        json_array_foreach (json_object_get (list, "items"), i, item)
        {
            const char *cmd = json_string_value (
                json_object_get (json_object_get (item, "parameters"), "cmd"));
            if (cmd && strstr (cmd, file)) {
                json_t *record = testing_api_wait_status (
                    sock, json_string_value (json_object_get (item, "id")), status,
                    15000);
                json_decref (list);
                return record;
            }
        }
        json_decref (list);
        zclock_sleep (50);
    }
    cr_assert_fail ("no execution writing to %s", file);
    return NULL;
}

Test (secrets, a_worker_host_gets_secrets_only_when_listed)
{
    char datastore[64], executor[64];
    s_start_split (datastore, executor, sizeof datastore,
                   "registry,executor,rules,datastore,api");
    s_curve_key ("w2", NULL); //  admitted, but not in the worker certs
    zsock_t *ada = s_peer ("ada", s_daemon.api);
    json_decref (testing_api_ok (
        ada, "api.key.set",
        json_pack ("{s:s, s:s, s:b}", "name", "token", "value", S_NEEDLE, "secret", 1)));
    //  w1, listed: its action gets the clear value
    s_worker_start ("w1", datastore);
    s_worker_wait (ada, "w1", true);
    char file[PATH_MAX + 32];
    snprintf (file, sizeof file, "%s/got-w1", s_daemon.root);
    json_decref (s_secret_run (ada, file, "completed"));
    char *got = s_wait_file (file);
    cr_assert_str_eq (got, S_NEEDLE "|Bearer " S_NEEDLE);
    free (got);
    kill (s_worker_pid, SIGTERM);
    waitpid (s_worker_pid, NULL, 0);
    s_worker_pid = 0;
    s_worker_wait (ada, "w1", false);
    //  w2, admitted by the handshake but not listed: the datastore refuses
    //  it, the execution fails naming the key and why; nothing ran
    s_worker_start ("w2", datastore);
    s_worker_wait (ada, "w2", true);
    snprintf (file, sizeof file, "%s/got-w2", s_daemon.root);
    json_t *failed = s_secret_run (ada, file, "failed");
    char *text = json_dumps (failed, JSON_COMPACT);
    cr_assert (strstr (text, "st2kv.system.token: forbidden"), "%s", text);
    cr_assert (strstr (text, "may not decrypt"), "%s", text);
    cr_assert_null (strstr (text, "S3cr3t"), "%s", text);
    free (text);
    json_decref (failed);
    cr_assert_eq (access (file, F_OK), -1, "w2's action ran");
    s_assert_nowhere ("S3cr3t");
    zsock_destroy (&ada);
}
