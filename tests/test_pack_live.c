/*  test_pack_live: packs managed while attuned runs (issue 21 item 6,
    issue 19 item 5): `attune pack install` from a directory and from a
    local git repository (--ref), `attune pack reload` applying changed,
    added and removed definitions, `attune pack remove` ending a queued
    execution of a removed action with its reason while the running one
    finishes, what loading skipped, and bad input answered clearly while the
    daemon keeps serving. A real daemon, the real CLI, the system's git.
*/
#include "tests/testing_api.h"

#define S_ATTUNE ATTUNE_HELPER_DIR "/attune"
#define S_GIT    "/usr/bin/git"
#define S_RUN_MS 60000

static testing_daemon_t s_daemon;
static char s_src[PATH_MAX]; //  <root>/src: pack sources outside the packs dir

static void
s_teardown (void)
{
    testing_daemon_stop_all ();
}

TestSuite (pack_live, .fini = s_teardown, .timeout = 180);

static void
s_start (void)
{
    testing_daemon_init (&s_daemon, "test_pack_live");
    snprintf (s_src, sizeof s_src, "%s/src", s_daemon.root);
    mkdir (s_src, 0750);
    testing_daemon_start (&s_daemon, NULL);
}

//  attune --api <daemon> [--json] ARGS: the exit code, output in *out_p
static int
s_cli (char **out_p, bool json, const char *const *args)
{
    const char *argv[32] = {S_ATTUNE, "--api", s_daemon.api};
    int argc = 3;
    if (json)
        argv[argc++] = "--json";
    for (int i = 0; args[i]; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    char *out = NULL, *err = NULL;
    int rc = testing_run (argv, NULL, &out, &err, S_RUN_MS);
    size_t n = strlen (out);
    char *both = (char *)malloc (n + strlen (err) + 2);
    sprintf (both, "%s%s", out, err);
    free (out);
    free (err);
    *out_p = both;
    return rc;
}
#define s_attune(out_p, ...)                                                             \
    s_cli (out_p, false, (const char *const[]){__VA_ARGS__, NULL})

//  attune --json ARGS that must succeed: its JSON output
static json_t *
s_attune_json (const char *const *args)
{
    char *out = NULL;
    int rc = s_cli (&out, true, args);
    cr_assert_eq (rc, 0, "attune %s %s: exit %d: %s", args[0], args[1], rc, out);
    json_t *value = json_loads (out, JSON_DECODE_ANY, NULL);
    cr_assert_not_null (value, "not JSON: %s", out);
    free (out);
    return value;
}
#define s_json(...) s_attune_json ((const char *const[]){__VA_ARGS__, NULL})

//  Write a file of a pack source under <root>/src
static void
s_src_write (const char *path, const char *text)
{
    testing_write (s_src, path, text);
}

//  git ARGS in `dir`, which must succeed
static void
s_git (const char *dir, const char *const *args)
{
    const char *argv[32] = {
        S_GIT, "-C", dir, "-c", "user.name=test", "-c", "user.email=test@example.com"};
    int argc = 7;
    for (int i = 0; args[i]; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    char *out = NULL, *err = NULL;
    int rc = testing_run (argv, NULL, &out, &err, S_RUN_MS);
    cr_assert_eq (rc, 0, "git %s: %s%s", args[0], out, err);
    free (out);
    free (err);
}
#define s_git_in(dir, ...) s_git (dir, (const char *const[]){__VA_ARGS__, NULL})

//  Run `action` and wait for `status`; its stdout (caller frees)
static char *
s_run (zsock_t *sock, const char *action, const char *status)
{
    json_t *run =
        testing_api_ok (sock, "api.execution.run", json_pack ("{s:s}", "action", action));
    json_t *record = testing_api_wait_status (
        sock, json_string_value (json_object_get (run, "execution")), status, 20000);
    json_t *result = json_object_get (record, "result");
    char *out = strdup (json_is_string (json_object_get (result, "stdout"))
                            ? json_string_value (json_object_get (result, "stdout"))
                            : "");
    json_decref (record);
    json_decref (run);
    return out;
}

//  A pack source: pack.yaml with `version`, one shell action echoing `word`
static void
s_pack_source (const char *pack, const char *version, const char *word)
{
    char path[256], text[512];
    snprintf (path, sizeof path, "%s/pack.yaml", pack);
    snprintf (text, sizeof text, "ref: %s\nname: %s\nversion: %s\n", pack, pack, version);
    s_src_write (path, text);
    snprintf (path, sizeof path, "%s/actions/hello.yaml", pack);
    snprintf (text, sizeof text,
              "name: hello\nrunner_type: local-shell-cmd\nentry_point: 'echo %s'\n",
              word);
    s_src_write (path, text);
}

static bool
s_skipped (const json_t *pack, const char *path)
{
    size_t i;
    json_t *item;
    json_array_foreach (json_object_get (pack, "skipped"), i, item)
    {
        const char *p = json_string_value (json_object_get (item, "path"));
        const char *reason = json_string_value (json_object_get (item, "reason"));
        if (p && streq (p, path) && reason && *reason)
            return true;
    }
    return false;
}

Test (pack_live, install_from_a_directory_lists_versions_and_skipped)
{
    s_start ();
    s_pack_source ("alpha", "1.2.3", "alpha-one");
    s_src_write ("alpha/aliases/hello.yaml", "name: hello\naction_ref: alpha.hello\n");
    s_src_write ("alpha/sensors/watch.py", "print('a sensor')\n");
    s_src_write ("alpha/rules/README.md", "notes\n");
    s_src_write ("alpha/extra/thing.txt", "x\n");
    s_src_write ("alpha/requirements.txt", "# nothing to install\n");
    char source[PATH_MAX + 16];
    snprintf (source, sizeof source, "%s/alpha", s_src);
    json_t *installed = s_json ("pack", "install", source);
    cr_assert_str_eq (json_string_value (json_object_get (installed, "pack")), "alpha");
    cr_assert_str_eq (json_string_value (json_object_get (installed, "version")),
                      "1.2.3");
    cr_assert_geq (json_integer_value (json_object_get (installed, "updated")), 2);
    json_decref (installed);

    zsock_t *sock = testing_api_client (&s_daemon);
    char *out = s_run (sock, "alpha.hello", "completed");
    cr_assert (strstr (out, "alpha-one"), "%s", out);
    free (out);

    //  list and get show the version; get the skipped things with reasons
    char *text = NULL;
    cr_assert_eq (s_attune (&text, "pack", "list"), 0, "%s", text);
    cr_assert (strstr (text, "alpha") && strstr (text, "1.2.3"), "%s", text);
    free (text);
    json_t *pack = s_json ("pack", "get", "alpha");
    cr_assert_str_eq (json_string_value (json_object_get (pack, "version")), "1.2.3");
    cr_assert (s_skipped (pack, "aliases/"));
    cr_assert (!s_skipped (pack, "sensors/"), "sensors run (issue 19)");
    cr_assert (s_skipped (pack, "rules/README.md"));
    cr_assert (s_skipped (pack, "extra/"));
    cr_assert_null (json_object_get (pack, "dir"), "no server path to clients");
    json_decref (pack);
    cr_assert (testing_daemon_wait_log (&s_daemon, "pack alpha: aliases/ skipped", 1000));

    //  the pack is in the packs directory, nothing half-made beside it
    char path[PATH_MAX + 64];
    snprintf (path, sizeof path, "%s/alpha/actions/hello.yaml", s_daemon.packs);
    cr_assert_eq (access (path, F_OK), 0);
    //  its requirements.txt: its virtualenv, as `attune pack setup-venv`
    snprintf (path, sizeof path, "%s/virtualenvs/alpha/bin/python3", s_daemon.data);
    cr_assert_eq (access (path, F_OK), 0, "no virtualenv at %s", path);
    zsock_destroy (&sock);
}

Test (pack_live, install_from_a_git_repository_at_a_ref)
{
    s_start ();
    char repo[PATH_MAX + 16];
    snprintf (repo, sizeof repo, "%s/beta", s_src);
    s_pack_source ("beta", "1.0.0", "beta-one");
    s_git_in (repo, "init", "--quiet");
    s_git_in (repo, "add", "-A");
    s_git_in (repo, "commit", "--quiet", "-m", "one");
    s_git_in (repo, "tag", "v1");
    s_pack_source ("beta", "2.0.0", "beta-two");
    s_git_in (repo, "commit", "--quiet", "-a", "-m", "two");

    char url[PATH_MAX + 32];
    snprintf (url, sizeof url, "file://%s", repo);
    json_t *installed = s_json ("pack", "install", url, "--ref", "v1");
    cr_assert_str_eq (json_string_value (json_object_get (installed, "version")),
                      "1.0.0");
    json_decref (installed);
    zsock_t *sock = testing_api_client (&s_daemon);
    char *out = s_run (sock, "beta.hello", "completed");
    cr_assert (strstr (out, "beta-one"), "%s", out);
    free (out);

    //  Removed, then installed at the branch's head
    json_decref (s_json ("pack", "remove", "beta"));
    testing_api_fails (sock, "api.action.get", json_pack ("{s:s}", "ref", "beta.hello"),
                       "not_found");
    installed = s_json ("pack", "install", url);
    cr_assert_str_eq (json_string_value (json_object_get (installed, "version")),
                      "2.0.0");
    json_decref (installed);
    out = s_run (sock, "beta.hello", "completed");
    cr_assert (strstr (out, "beta-two"), "%s", out);
    free (out);

    //  A ref the repository does not have
    json_decref (s_json ("pack", "remove", "beta"));
    char *text = NULL;
    cr_assert_neq (s_attune (&text, "pack", "install", url, "--ref", "nope"), 0);
    cr_assert (strstr (text, "nope"), "%s", text);
    free (text);
    zsock_destroy (&sock);
}

Test (pack_live, reload_applies_changed_added_and_removed_definitions)
{
    testing_daemon_init (&s_daemon, "test_pack_live");
    testing_daemon_write (&s_daemon, "gamma/pack.yaml", "ref: gamma\nname: gamma\n");
    testing_daemon_write (
        &s_daemon, "gamma/actions/a1.yaml",
        "name: a1\nrunner_type: local-shell-cmd\nentry_point: 'echo v1'\n");
    testing_daemon_write (&s_daemon, "gamma/actions/a2.yaml",
                          "name: a2\nrunner_type: noop\n");
    testing_daemon_start (&s_daemon, NULL);
    zsock_t *sock = testing_api_client (&s_daemon);
    char *out = s_run (sock, "gamma.a1", "completed");
    cr_assert (strstr (out, "v1"), "%s", out);
    free (out);

    testing_daemon_write (
        &s_daemon, "gamma/actions/a1.yaml",
        "name: a1\nrunner_type: local-shell-cmd\nentry_point: 'echo v2'\n");
    testing_daemon_write (&s_daemon, "gamma/actions/a3.yaml",
                          "name: a3\nrunner_type: noop\n");
    char path[PATH_MAX + 64];
    snprintf (path, sizeof path, "%s/gamma/actions/a2.yaml", s_daemon.packs);
    cr_assert_eq (unlink (path), 0);
    json_t *reloaded = s_json ("pack", "reload", "gamma");
    cr_assert_geq (json_integer_value (json_object_get (reloaded, "updated")), 2);
    cr_assert_eq (json_integer_value (json_object_get (reloaded, "deleted")), 1);
    json_decref (reloaded);
    testing_api_fails (sock, "api.action.get", json_pack ("{s:s}", "ref", "gamma.a2"),
                       "not_found");
    out = s_run (sock, "gamma.a1", "completed");
    cr_assert (strstr (out, "v2"), "the changed definition applies: %s", out);
    free (out);
    free (s_run (sock, "gamma.a3", "completed"));

    //  Every pack: nothing changed, nothing published
    reloaded = s_json ("pack", "reload");
    cr_assert_eq (json_integer_value (json_object_get (reloaded, "updated")), 0);
    cr_assert_eq (json_integer_value (json_object_get (reloaded, "deleted")), 0);
    json_decref (reloaded);
    free (s_run (sock, "gamma.a3", "completed"));
    zsock_destroy (&sock);
}

Test (pack_live, remove_ends_the_queued_and_lets_the_running_finish)
{
    testing_daemon_init (&s_daemon, "test_pack_live");
    testing_daemon_write (&s_daemon, "delta/pack.yaml", "ref: delta\nname: delta\n");
    testing_daemon_write (&s_daemon, "delta/actions/slow.yaml",
                          "name: slow\nrunner_type: local-shell-cmd\n"
                          "entry_point: 'sleep 2; echo slept'\n");
    testing_daemon_write (&s_daemon, "delta/policies/one.yaml",
                          "name: one\nresource_ref: delta.slow\n"
                          "policy_type: action.concurrency\n"
                          "parameters:\n  threshold: 1\n  queue_timeout: 60\n");
    testing_daemon_start (&s_daemon, NULL);
    zsock_t *sock = testing_api_client (&s_daemon);
    char ids[2][64];
    for (int i = 0; i < 2; i++) {
        json_t *run = testing_api_ok (sock, "api.execution.run",
                                      json_pack ("{s:s}", "action", "delta.slow"));
        snprintf (ids[i], 64, "%s",
                  json_string_value (json_object_get (run, "execution")));
        json_decref (run);
    }
    json_decref (testing_api_wait_status (sock, ids[0], "running", 10000));
    json_decref (testing_api_wait_status (sock, ids[1], "delayed", 10000));
    json_decref (s_json ("pack", "remove", "delta"));

    json_t *first = testing_api_wait_status (sock, ids[0], "completed", 20000);
    json_decref (first);
    json_t *second = testing_api_wait_status (sock, ids[1], "failed", 20000);
    const char *error =
        json_string_value (json_object_get (json_object_get (second, "result"), "error"));
    cr_assert (error && strstr (error, "action delta.slow was removed"), "%s",
               error ? error : "(no error)");
    json_decref (second);
    char path[PATH_MAX + 16];
    snprintf (path, sizeof path, "%s/delta", s_daemon.packs);
    cr_assert_neq (access (path, F_OK), 0, "the pack's folder is gone");
    zsock_destroy (&sock);
}

Test (pack_live, bad_input_gets_clear_errors_and_the_daemon_serves_on)
{
    s_start ();
    zsock_t *sock = testing_api_client (&s_daemon);
    char missing[PATH_MAX + 16];
    snprintf (missing, sizeof missing, "%s/nowhere", s_src);
    testing_api_fails (sock, "api.pack.install", json_pack ("{s:s}", "source", missing),
                       "not_found");
    testing_api_fails (sock, "api.pack.install",
                       json_pack ("{s:s}", "source", "relative/path"), "bad_request");
    testing_api_fails (sock, "api.pack.install",
                       json_pack ("{s:s}", "source", "--upload-pack=touch /tmp/x"),
                       "bad_request");
    char url[PATH_MAX + 32];
    snprintf (url, sizeof url, "file://%s/not-a-repo", s_src);
    s_src_write ("not-a-repo/file.txt", "x\n");
    char *text = NULL;
    cr_assert_neq (s_attune (&text, "pack", "install", url), 0);
    cr_assert (strstr (text, "git clone"), "%s", text);
    free (text);

    //  The CLI: a relative path that is not there
    cr_assert_neq (s_attune (&text, "pack", "install", "no/such/dir"), 0);
    cr_assert (strstr (text, "no/such/dir"), "%s", text);
    free (text);

    //  Not a pack; a pack whose action does not load
    char dir[PATH_MAX + 16];
    snprintf (dir, sizeof dir, "%s/not-a-repo", s_src);
    testing_api_fails (sock, "api.pack.install", json_pack ("{s:s}", "source", dir),
                       "invalid");
    s_pack_source ("broken", "1.0.0", "x");
    s_src_write ("broken/actions/bad.yaml", "name: bad\nrunner_type: no-such-runner\n");
    snprintf (dir, sizeof dir, "%s/broken", s_src);
    cr_assert_neq (s_attune (&text, "pack", "install", dir), 0);
    cr_assert (strstr (text, "broken/actions/bad.yaml"), "%s", text);
    free (text);

    //  Twice; unknown packs
    s_pack_source ("twice", "1.0.0", "x");
    snprintf (dir, sizeof dir, "%s/twice", s_src);
    json_decref (s_json ("pack", "install", dir));
    testing_api_fails (sock, "api.pack.install", json_pack ("{s:s}", "source", dir),
                       "conflict");
    testing_api_fails (sock, "api.pack.remove", json_pack ("{s:s}", "ref", "nope"),
                       "not_found");
    testing_api_fails (sock, "api.pack.reload", json_pack ("{s:s}", "ref", "nope"),
                       "not_found");

    //  Nothing left half-made in the packs directory; the daemon serves on
    DIR *packs = opendir (s_daemon.packs);
    struct dirent *entry;
    while ((entry = readdir (packs)))
        cr_assert (strncmp (entry->d_name, ".install-", 9) &&
                       strncmp (entry->d_name, ".remove-", 8),
                   "left over: %s", entry->d_name);
    closedir (packs);
    json_decref (
        testing_api_ok (sock, "api.pack.get", json_pack ("{s:s}", "ref", "twice")));
    json_decref (testing_api_ok (sock, "api.ping", NULL));
    zsock_destroy (&sock);
}
