/*  st2_runners: runner parameters as StackStorm declares them, inherited by
    actions (override default/immutable/description without the type;
    coerced defaults load with a warning; other changes refused naming
    file, line and field); runners attune lacks refused by name; the core
    pack's StackStorm actions. */
#include "tests/testing.h"
#include "actors/registry/registry_catalog.h"
#include "actors/registry/registry_pack.h"
#include "actors/registry/registry_params.h"
#include "actors/registry/registry_runners.h"

#ifndef ATTUNE_SOURCE_DIR
#define ATTUNE_SOURCE_DIR "."
#endif

static char s_root[256];

static void
s_setup (void)
{
    testing_tmpdir (s_root, sizeof s_root, "st2-runners");
}

static void
s_teardown (void)
{
    testing_rmtree (s_root);
}

TestSuite (st2_runners, .init = s_setup, .fini = s_teardown);

static const json_t *
s_param (registry_catalog_t *catalog, const char *ref, const char *name)
{
    const json_t *action = registry_catalog_action (catalog, ref);
    cr_assert_not_null (action, "%s loads", ref);
    return json_object_get (json_object_get (action, "parameters"), name);
}

static bool
s_has (zlist_t *errors, const char *fragment)
{
    for (char *e = (char *)zlist_first (errors); e; e = (char *)zlist_next (errors))
        if (strstr (e, fragment))
            return true;
    return false;
}

Test (st2_runners, actions_inherit_and_override_runner_parameters)
{
    testing_write (s_root, "p/pack.yaml", "ref: p\nname: p\n");
    //  overrides without the type; an integer default on a string; 1 on a
    //  boolean; a dotted name
    testing_write (s_root, "p/actions/a.yaml",
                   "name: chat.postMessage\nrunner_type: local-shell-cmd\n"
                   "parameters:\n  cmd:\n    default: uname\n"
                   "    immutable: true\n  cwd:\n    default: 5\n"
                   "  sudo:\n    default: 1\n  text:\n    type: string\n"
                   "    default: 42\n");
    //  changing a runner parameter's type is refused, naming the line
    testing_write (s_root, "p/actions/b.yaml",
                   "name: b\nrunner_type: local-shell-cmd\n"
                   "parameters:\n  timeout:\n    type: string\n");
    testing_write (s_root, "p/actions/w.yaml", "name: w\nrunner_type: winrm-cmd\n");
    testing_write (s_root, "p/actions/o.yaml",
                   "name: o\nrunner_type: mistral-v2\nentry_point: o.yaml\n");
    //  A workflow whose definition does not load is refused with its line
    testing_write (s_root, "p/actions/wf.yaml",
                   "name: wf\nrunner_type: orquesta\nentry_point: wf/bad.yaml\n");
    testing_write (s_root, "p/actions/wf/bad.yaml",
                   "version: 1.0\ntasks:\n  one:\n    action: core.noop\n    next:\n"
                   "      - do: nowhere\n");
    testing_write (s_root, "p/actions/u.yaml", "name: u\nrunner_type: nosuch\n");
    registry_catalog_t *catalog = registry_catalog_new ();
    zlist_t *errors = zlist_new ();
    zlist_autofree (errors);
    registry_catalog_load_dir (catalog, s_root, errors);
    const json_t *cmd = s_param (catalog, "p.chat.postMessage", "cmd");
    cr_assert_str_eq (json_string_value (json_object_get (cmd, "type")), "string");
    cr_assert (json_is_true (json_object_get (cmd, "immutable")));
    cr_assert_str_eq (json_string_value (json_object_get (
                          s_param (catalog, "p.chat.postMessage", "cwd"), "default")),
                      "5", "integer default on a string: coerced");
    cr_assert (json_is_true (
        json_object_get (s_param (catalog, "p.chat.postMessage", "sudo"), "default")));
    cr_assert_str_eq (json_string_value (json_object_get (
                          s_param (catalog, "p.chat.postMessage", "text"), "default")),
                      "42");
    const json_t *timeout = s_param (catalog, "p.chat.postMessage", "timeout");
    cr_assert_eq (json_integer_value (json_object_get (timeout, "default")), 60);
    cr_assert (json_is_true (json_object_get (
        s_param (catalog, "p.chat.postMessage", "sudo_password"), "secret")));
    cr_assert_null (registry_catalog_action (catalog, "p.b"));
    cr_assert (s_has (errors, "actions/b.yaml:5: parameters.timeout.type: the runner's "
                              "parameter cannot change its \"type\""));
    cr_assert (s_has (errors, "actions/w.yaml:2: runner_type: runner \"winrm-cmd\" is "
                              "StackStorm's; attune does not have it"));
    cr_assert (s_has (errors, "actions/o.yaml:2: runner_type: runner \"mistral-v2\" not "
                              "available yet"));
    cr_assert (s_has (errors, "actions/wf.yaml:3: entry_point: "));
    cr_assert (s_has (errors, "nowhere"));
    cr_assert (
        s_has (errors, "actions/u.yaml:2: runner_type: unknown runner \"nosuch\""));
    cr_assert_eq (zlist_size (errors), 5);
    //  applying: the runner's defaults fill in, immutable holds
    char message[256] = "";
    json_t *given = json_pack ("{s:s}", "text", "hi");
    json_t *final = registry_params_apply (
        json_object_get (registry_catalog_action (catalog, "p.chat.postMessage"),
                         "parameters"),
        given, message, sizeof message);
    cr_assert_not_null (final, "%s", message);
    cr_assert_str_eq (json_string_value (json_object_get (final, "kwarg_op")), "--");
    cr_assert_str_eq (json_string_value (json_object_get (final, "cmd")), "uname");
    json_decref (final);
    json_object_set_new (given, "cmd", json_string ("id"));
    cr_assert_null (registry_params_apply (
        json_object_get (registry_catalog_action (catalog, "p.chat.postMessage"),
                         "parameters"),
        given, message, sizeof message));
    cr_assert (strstr (message, "immutable"), "%s", message);
    json_decref (given);
    zlist_destroy (&errors);
    registry_catalog_destroy (&catalog);
}

Test (st2_runners, the_core_pack_is_stackstorms_core)
{
    registry_catalog_t *catalog = registry_catalog_new ();
    zlist_t *errors = zlist_new ();
    zlist_autofree (errors);
    registry_catalog_load_dir (catalog, ATTUNE_SOURCE_DIR "/packs", errors);
    cr_assert_eq (zlist_size (errors), 0, "%s",
                  zlist_size (errors) ? (char *)zlist_first (errors) : "");
    const char *refs[] = {"core.local",          "core.local_sudo",  "core.remote",
                          "core.remote_sudo",    "core.http",        "core.echo",
                          "core.noop",           "core.pause",       "core.uuid",
                          "core.inject_trigger", "core.sendmail",    "core.ask",
                          "core.announcement",   "core.error",       "core.sleep",
                          "core.python_echo",    "core.local_script"};
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++)
        cr_assert_not_null (registry_catalog_action (catalog, refs[i]), "%s", refs[i]);
    //  inherited from the runners, as StackStorm's
    cr_assert_not_null (s_param (catalog, "core.local", "env"));
    cr_assert_not_null (s_param (catalog, "core.local", "cwd"));
    cr_assert (json_is_true (
        json_object_get (s_param (catalog, "core.local_sudo", "sudo"), "default")));
    cr_assert (json_is_true (
        json_object_get (s_param (catalog, "core.local_sudo", "sudo"), "immutable")));
    cr_assert (json_is_true (
        json_object_get (s_param (catalog, "core.remote", "hosts"), "required")));
    cr_assert_str_eq (json_string_value (json_object_get (
                          s_param (catalog, "core.http", "method"), "default")),
                      "GET");
    cr_assert (json_is_true (
        json_object_get (s_param (catalog, "core.http", "verify_ssl_cert"), "default")));
    cr_assert_eq (json_integer_value (json_object_get (
                      s_param (catalog, "core.sendmail", "body"), "position")),
                  6);
    cr_assert_str_eq (json_string_value (json_object_get (
                          registry_catalog_action (catalog, "core.ask"), "runner_type")),
                      "inquirer");
    cr_assert_eq (json_integer_value (
                      json_object_get (s_param (catalog, "core.ask", "ttl"), "default")),
                  1440);
    cr_assert (json_is_true (json_object_get (
        s_param (catalog, "core.announcement", "experimental"), "default")));
    zlist_destroy (&errors);
    registry_catalog_destroy (&catalog);
}

Test (st2_runners, the_table)
{
    cr_assert_eq (registry_runners_state ("local-shell-cmd"), REGISTRY_RUNNER_AVAILABLE);
    cr_assert_eq (registry_runners_state ("http-request"), REGISTRY_RUNNER_AVAILABLE);
    cr_assert_eq (registry_runners_state ("action-chain"), REGISTRY_RUNNER_AVAILABLE);
    cr_assert_eq (registry_runners_state ("orquesta"), REGISTRY_RUNNER_AVAILABLE);
    cr_assert_eq (registry_runners_state ("mistral-v2"), REGISTRY_RUNNER_LATER);
    cr_assert_eq (registry_runners_state ("winrm-ps-script"), REGISTRY_RUNNER_ABSENT);
    cr_assert_eq (registry_runners_state ("nope"), REGISTRY_RUNNER_UNKNOWN);
    const char *python[] = {"env", "timeout", "log_level"};
    for (int i = 0; i < 3; i++)
        cr_assert (registry_runners_is_runner_param ("python-script", python[i]));
    const char *remote[] = {"hosts",   "username",    "password", "private_key",
                            "port",    "parallel",    "cwd",      "env",
                            "timeout", "bastion_host"};
    for (int i = 0; i < 10; i++)
        cr_assert (registry_runners_is_runner_param ("remote-shell-script", remote[i]));
    cr_assert_eq (
        json_integer_value (json_object_get (
            json_object_get (registry_runners_parameters ("python-script"), "timeout"),
            "default")),
        600);
    cr_assert (!registry_runners_is_runner_param ("local-shell-script", "cmd"));
}
