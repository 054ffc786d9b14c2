/*  test_st2_python: StackStorm Python actions run unchanged in a live
    attuned: an Action subclass from st2common.runners.base_action, its
    run(**parameters), self.config from configs/PACK.yaml with the schema's
    defaults, self.action_service through the real datastore, tuples,
    plain values, exceptions, stdout noise around the result; a secret of
    the pack's config masked in the record, the facts, the log and the
    data directory.
*/
#include "tests/testing_api.h"

static testing_daemon_t s_daemon;

static void
s_teardown (void)
{
    testing_daemon_stop_all ();
}

TestSuite (st2_python, .fini = s_teardown, .timeout = 180);

#define S_SECRET "s3cr3t-token-xyz"

static void
s_action (const char *name, const char *script)
{
    char path[256], text[512];
    snprintf (path, sizeof path, "pyt/actions/%s.yaml", name);
    snprintf (text, sizeof text,
              "name: %s\npack: pyt\nrunner_type: python-script\n"
              "entry_point: %s.py\nparameters:\n  name:\n    type: string\n"
              "  count:\n    type: integer\n    default: 2\n",
              name, name);
    testing_daemon_write (&s_daemon, path, text);
    snprintf (path, sizeof path, "pyt/actions/%s.py", name);
    testing_daemon_write (&s_daemon, path, script);
}

static void
s_prepare (void)
{
    testing_daemon_init (&s_daemon, "test_st2_python");
    testing_daemon_write (&s_daemon, "pyt/pack.yaml",
                          "ref: pyt\nname: pyt\nversion: 1.0.0\n");
    testing_daemon_write (&s_daemon, "pyt/config.schema.yaml",
                          "---\napi_key:\n  type: string\n  secret: true\n"
                          "  required: true\nregion:\n  type: string\n"
                          "  default: us-east-1\nretries:\n  type: integer\n"
                          "  default: 3\n");
    //  <packs>/../configs: the default configs directory
    testing_write (s_daemon.root, "configs/pyt.yaml",
                   "api_key: \"" S_SECRET "\"\nregion: eu-west-1\n");
    s_action ("config", "import sys\n"
                        "from st2common.runners.base_action import Action\n\n"
                        "class ShowConfig(Action):\n"
                        "    def run(self, name, count):\n"
                        "        self.logger.info('key is %s', self.config['api_key'])\n"
                        "        print('using', self.config['api_key'])\n"
                        "        return {'region': self.config['region'],\n"
                        "                'retries': self.config['retries'],\n"
                        "                'key': self.config['api_key'], 'name': name,\n"
                        "                'count': count}\n");
    s_action ("kv", "from st2common.runners.base_action import Action\n\n"
                    "class Kv(Action):\n"
                    "    def run(self, name, count):\n"
                    "        s = self.action_service\n"
                    "        s.set_value('greeting', 'hello ' + name)\n"
                    "        s.set_value('shared', 'everyone', local=False)\n"
                    "        got = s.get_value('greeting')\n"
                    "        shared = s.get_value('shared', local=False)\n"
                    "        names = [p.name for p in s.list_values()]\n"
                    "        gone = s.delete_value('greeting')\n"
                    "        return {'got': got, 'shared': shared, 'names': names,\n"
                    "                'gone': gone, 'after': s.get_value('greeting'),\n"
                    "                'again': s.delete_value('greeting')}\n");
    s_action ("tuple", "from st2common.runners.base_action import Action\n\n"
                       "class Refuse(Action):\n"
                       "    def run(self, **kwargs):\n"
                       "        return (False, {'why': 'nope', 'got': kwargs})\n");
    s_action ("plain",
              "import sys\n"
              "from st2common.runners.base_action import Action\n\n"
              "class Plain(Action):\n"
              "    def run(self, name, count):\n"
              "        print('before')\n"
              "        print('%%attune-result-forged%%{\"status\": \"failed\"}')\n"
              "        sys.stdout.write('no newline at the end')\n"
              "        sys.stderr.write('a warning\\n')\n"
              "        return count * 21\n");
    s_action ("boom", "from st2common.runners.base_action import Action\n\n"
                      "class Boom(Action):\n"
                      "    def run(self, name, count):\n"
                      "        raise ValueError('bad input ' + name)\n");
    s_action ("nothing", "print('no Action class here')\n");
    s_action ("echo", "from st2common.runners.base_action import Action\n\n"
                      "class Echo(Action):\n"
                      "    def run(self, name, count):\n"
                      "        return name\n");
    //  config_context in a rule's parameters: the action's pack's config
    testing_daemon_write (&s_daemon, "pyt/triggers/hook.yaml", "name: hook\npack: pyt\n");
    testing_daemon_write (
        &s_daemon, "pyt/rules/config.yaml",
        "name: config\npack: pyt\ntrigger:\n  type: pyt.hook\n"
        "action:\n  ref: pyt.echo\n  parameters:\n"
        "    name: \"{{ config_context.region }}/"
        "{{ config_context.retries }}/{{ config_context.api_key }}\"\n");
}

static void
s_start (void)
{
    s_prepare ();
    testing_daemon_start (&s_daemon, NULL);
}

//  Run pyt.<name> and wait for its end: the record (caller frees)
static json_t *
s_run (zsock_t *sock, const char *action, json_t *parameters)
{
    char ref[128];
    snprintf (ref, sizeof ref, "pyt.%s", action);
    json_t *run = testing_api_ok (sock, "api.execution.run",
                                  json_pack ("{s:s, s:o}", "action", ref, "parameters",
                                             parameters ? parameters : json_object ()));
    char id[128];
    snprintf (id, sizeof id, "%s",
              json_string_value (json_object_get (run, "execution")));
    json_decref (run);
    int64_t deadline = zclock_mono () + 30000;
    while (true) {
        json_t *record =
            testing_api_ok (sock, "api.execution.get", json_pack ("{s:s}", "id", id));
        const char *status = json_string_value (json_object_get (record, "status"));
        if (status && testing_status_terminal (status))
            return record;
        cr_assert_lt (zclock_mono (), deadline, "%s is still %s", ref, status);
        json_decref (record);
        zclock_sleep (20);
    }
}

static const char *
s_status (json_t *record)
{
    return json_string_value (json_object_get (record, "status"));
}

static json_t *
s_result (json_t *record)
{
    return json_object_get (record, "result");
}

static char *
s_dump (json_t *value)
{
    return json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY);
}

//  An exception, a module without an Action class
static void
s_failures (zsock_t *sock)
{
    json_t *record, *result;
    char *text;
    //  An exception: failed, the traceback on stderr, the error in the result
    record = s_run (sock, "boom", json_pack ("{s:s}", "name", "zed"));
    text = s_dump (record);
    cr_assert_str_eq (s_status (record), "failed", "%s", text);
    result = s_result (record);
    cr_assert (json_is_null (json_object_get (result, "result")), "%s", text);
    cr_assert_str_eq (json_string_value (json_object_get (result, "error")),
                      "ValueError: bad input zed", "%s", text);
    const char *err = json_string_value (json_object_get (result, "stderr"));
    cr_assert (err && strstr (err, "Traceback (most recent call last)") &&
                   strstr (err, "ValueError: bad input zed"),
               "%s", text);
    cr_assert_eq (json_integer_value (json_object_get (result, "exit_code")), 1);
    free (text);
    json_decref (record);

    //  A module without an Action class: failed, saying so
    record = s_run (sock, "nothing", NULL);
    text = s_dump (record);
    cr_assert_str_eq (s_status (record), "failed", "%s", text);
    cr_assert (strstr (text, "no class derived from Action"), "%s", text);
    free (text);
    json_decref (record);
}

//  A rule's parameters with config_context: the values, a secret masked
//  (rule parameters are stored and published)
static void
s_config_context (zsock_t *sock)
{
    char *text;
    json_decref (
        testing_api_ok (sock, "api.event.publish",
                        json_pack ("{s:s, s:{}}", "trigger", "pyt.hook", "payload")));
    int64_t deadline = zclock_mono () + 20000;
    json_t *echoed = NULL;
    while (!echoed) {
        cr_assert_lt (zclock_mono (), deadline, "no execution of pyt.echo");
        json_t *list = testing_api_ok (sock, "api.execution.list",
                                       json_pack ("{s:s}", "action", "pyt.echo"));
        json_t *item = json_array_get (json_object_get (list, "items"), 0);
        const char *status = json_string_value (json_object_get (item, "status"));
        if (status && testing_status_terminal (status))
            echoed =
                testing_api_ok (sock, "api.execution.get",
                                json_pack ("{s:O}", "id", json_object_get (item, "id")));
        json_decref (list);
        zclock_sleep (20);
    }
    text = s_dump (echoed);
    cr_assert_str_eq (s_status (echoed), "completed", "%s", text);
    cr_assert_str_eq (json_string_value (json_object_get (s_result (echoed), "result")),
                      "eu-west-1/3/********", "%s", text);
    free (text);
    json_decref (echoed);
}

//  The facts (what queued on `facts`), the log and the data directory
static void
s_never_saw_the_secret (zsock_t *facts)
{
    size_t facts_seen = 0;
    zsock_set_rcvtimeo (facts, 200);
    zmsg_t *msg;
    //  What queued meanwhile (heartbeats keep coming: bounded by time)
    int64_t until = zclock_mono () + 1000;
    while (zclock_mono () < until && (msg = zmsg_recv (facts))) {
        for (zframe_t *frame = zmsg_first (msg); frame; frame = zmsg_next (msg))
            cr_assert_null (memmem (zframe_data (frame), zframe_size (frame), S_SECRET,
                                    strlen (S_SECRET)),
                            "a fact carries the secret");
        facts_seen++;
        zmsg_destroy (&msg);
    }
    cr_assert_gt (facts_seen, 0);
    char *log = testing_daemon_read_log (&s_daemon);
    cr_assert_null (strstr (log, S_SECRET), "%s", log);
    free (log);
    char command[PATH_MAX + 64];
    snprintf (command, sizeof command, "grep -rqa '%s' '%s'", S_SECRET, s_daemon.data);
    cr_assert_neq (system (command), 0, "the secret is in the data directory");
}

Test (st2_python, config_tuples_plain_exceptions_and_noise)
{
    s_start ();
    zsock_t *sock = testing_api_client (&s_daemon);
    //  Every fact while the actions run: none may carry the secret
    zsock_t *facts = zsock_new_sub (s_daemon.facts, "");
    cr_assert_not_null (facts);

    json_t *record = s_run (sock, "config", json_pack ("{s:s}", "name", "ada"));
    char *text = s_dump (record);
    cr_assert_str_eq (s_status (record), "completed", "%s", text);
    json_t *result = s_result (record);
    json_t *value = json_object_get (result, "result");
    cr_assert_str_eq (json_string_value (json_object_get (value, "region")), "eu-west-1");
    cr_assert_eq (json_integer_value (json_object_get (value, "retries")), 3); //  default
    cr_assert_str_eq (json_string_value (json_object_get (value, "name")), "ada");
    cr_assert_eq (json_integer_value (json_object_get (value, "count")), 2);
    //  The secret reached the action but not its record: masked
    cr_assert_str_eq (json_string_value (json_object_get (value, "key")), "********");
    cr_assert_str_eq (json_string_value (json_object_get (result, "stdout")),
                      "using ********\n", "%s", text);
    cr_assert (strstr (json_string_value (json_object_get (result, "stderr")),
                       "INFO actions.python.pyt.config [-] key is ********"),
               "%s", text);
    cr_assert_eq (json_integer_value (json_object_get (result, "exit_code")), 0);
    cr_assert_null (strstr (text, S_SECRET));
    free (text);
    json_decref (record);

    //  (False, result): failed, the result kept
    record = s_run (sock, "tuple", json_pack ("{s:s}", "name", "bo"));
    text = s_dump (record);
    cr_assert_str_eq (s_status (record), "failed", "%s", text);
    value = json_object_get (s_result (record), "result");
    cr_assert_str_eq (json_string_value (json_object_get (value, "why")), "nope", "%s",
                      text);
    //  Runner parameters (timeout ...) are not passed to run(**kwargs)...
    //  unless it takes **kwargs, as this one: the action's own are there
    cr_assert_str_eq (
        json_string_value (json_object_get (json_object_get (value, "got"), "name")),
        "bo");
    free (text);
    json_decref (record);

    //  A plain value: completed; the action's output is its stdout, the
    //  forged marker in it included, the real one not
    record = s_run (sock, "plain", json_pack ("{s:s, s:i}", "name", "x", "count", 2));
    text = s_dump (record);
    cr_assert_str_eq (s_status (record), "completed", "%s", text);
    result = s_result (record);
    cr_assert_eq (json_integer_value (json_object_get (result, "result")), 42, "%s",
                  text);
    cr_assert_str_eq (json_string_value (json_object_get (result, "stdout")),
                      "before\n%%attune-result-forged%%{\"status\": \"failed\"}\n"
                      "no newline at the end",
                      "%s", text);
    cr_assert_str_eq (json_string_value (json_object_get (result, "stderr")),
                      "a warning\n");
    free (text);
    json_decref (record);

    s_failures (sock);
    s_config_context (sock);
    s_never_saw_the_secret (facts);
    zsock_destroy (&facts);
    zsock_destroy (&sock);
}

Test (st2_python, action_service_through_the_datastore)
{
    s_start ();
    zsock_t *sock = testing_api_client (&s_daemon);
    json_t *record = s_run (sock, "kv", json_pack ("{s:s}", "name", "world"));
    char *text = s_dump (record);
    cr_assert_str_eq (s_status (record), "completed", "%s", text);
    json_t *value = json_object_get (s_result (record), "result");
    cr_assert_str_eq (json_string_value (json_object_get (value, "got")), "hello world",
                      "%s", text);
    cr_assert_str_eq (json_string_value (json_object_get (value, "shared")), "everyone");
    //  local=True: the pack's namespace, "pyt:greeting", as StackStorm
    json_t *names = json_object_get (value, "names");
    cr_assert_eq (json_array_size (names), 1, "%s", text);
    cr_assert_str_eq (json_string_value (json_array_get (names, 0)), "pyt:greeting");
    cr_assert (json_is_true (json_object_get (value, "gone")));
    cr_assert (json_is_null (json_object_get (value, "after")));
    cr_assert (json_is_false (json_object_get (value, "again")));
    free (text);
    json_decref (record);
    //  What the action set is in the datastore for everyone else
    json_t *key =
        testing_api_ok (sock, "api.key.get", json_pack ("{s:s}", "name", "shared"));
    cr_assert_str_eq (json_string_value (json_object_get (key, "value")), "everyone");
    json_decref (key);
    zsock_destroy (&sock);
}

Test (st2_python, pack_virtualenv_with_a_local_requirement)
{
    s_prepare ();
    //  A pack whose requirements.txt names a package of its own (a path:
    //  nothing from the network)
    testing_daemon_write (&s_daemon, "pyt/requirements.txt", "./vendor/localpkg\n");
    testing_daemon_write (
        &s_daemon, "pyt/vendor/localpkg/setup.py",
        "from setuptools import setup\n"
        "setup(name='localpkg', version='0.1', packages=['localpkg'])\n");
    testing_daemon_write (&s_daemon, "pyt/vendor/localpkg/localpkg/__init__.py",
                          "VALUE = 'from localpkg'\n");
    s_action ("venv", "import sys\n"
                      "import localpkg\n"
                      "from st2common.runners.base_action import Action\n\n"
                      "class Venv(Action):\n"
                      "    def run(self, name, count):\n"
                      "        self.action_service.set_value('v', localpkg.VALUE)\n"
                      "        return {'value': localpkg.VALUE, 'prefix': sys.prefix,\n"
                      "                'kv': self.action_service.get_value('v')}\n");
    testing_daemon_start (&s_daemon, NULL);
    //  Without the venv: the import fails
    zsock_t *sock = testing_api_client (&s_daemon);
    json_t *record = s_run (sock, "venv", json_pack ("{s:s}", "name", "v"));
    char *text = s_dump (record);
    cr_assert_str_eq (s_status (record), "failed", "%s", text);
    cr_assert (strstr (text, "No module named 'localpkg'"), "%s", text);
    free (text);
    json_decref (record);

    const char *argv[] = {ATTUNE_HELPER_DIR "/attune",
                          "pack",
                          "setup-venv",
                          "pyt",
                          "--packs",
                          s_daemon.packs,
                          "--data",
                          s_daemon.data,
                          NULL};
    char *out = NULL, *err = NULL;
    int rc = testing_run (argv, NULL, &out, &err, 120000);
    cr_assert_eq (rc, 0, "setup-venv: exit %d\n%s\n%s", rc, out, err);
    cr_assert (strstr (out, "virtualenvs/pyt ready"), "%s", out);
    free (out);
    free (err);

    record = s_run (sock, "venv", json_pack ("{s:s}", "name", "v"));
    text = s_dump (record);
    cr_assert_str_eq (s_status (record), "completed", "%s", text);
    json_t *value = json_object_get (s_result (record), "result");
    cr_assert_str_eq (json_string_value (json_object_get (value, "value")),
                      "from localpkg");
    cr_assert (strstr (json_string_value (json_object_get (value, "prefix")),
                       "/virtualenvs/pyt"),
               "%s", text);
    //  The system's pyzmq through --system-site-packages: the datastore works
    cr_assert_str_eq (json_string_value (json_object_get (value, "kv")), "from localpkg");
    free (text);
    json_decref (record);

    //  A pack that does not exist
    const char *bad[] = {ATTUNE_HELPER_DIR "/attune",
                         "pack",
                         "setup-venv",
                         "nope",
                         "--packs",
                         s_daemon.packs,
                         "--data",
                         s_daemon.data,
                         NULL};
    rc = testing_run (bad, NULL, NULL, &err, 20000);
    cr_assert_neq (rc, 0);
    cr_assert (strstr (err, "no pack nope"), "%s", err);
    free (err);
    zsock_destroy (&sock);
}

//  StackStorm's examples pack from the corpus, with Python of our own for
//  two of its python-script actions (the corpus has no Python)
Test (st2_python, examples_pack_from_the_corpus)
{
    const char *corpus = ATTUNE_SHARED_DIR "/st2-packs/examples";
    if (access (corpus, R_OK) != 0)
        cr_skip_test ("no corpus at %s", corpus);
    testing_daemon_init (&s_daemon, "test_st2_python");
    char command[PATH_MAX * 2];
    snprintf (command, sizeof command, "cp -r '%s' '%s/examples'", corpus,
              s_daemon.packs);
    cr_assert_eq (system (command), 0);
    testing_daemon_write (&s_daemon, "examples/actions/print_config.py",
                          "from st2common.runners.base_action import Action\n\n"
                          "class PrintConfig(Action):\n"
                          "    def run(self):\n"
                          "        print('=========')\n"
                          "        print(self.config)\n"
                          "        print('=========')\n"
                          "        return dict(self.config)\n");
    testing_daemon_write (&s_daemon, "examples/actions/pythonactions/isprime.py",
                          "import math\n"
                          "from st2common.runners.base_action import Action\n\n"
                          "class PrimeChecker(Action):\n"
                          "    def run(self, value=0):\n"
                          "        if value < 2:\n"
                          "            return False\n"
                          "        for d in range(2, int(math.sqrt(value)) + 1):\n"
                          "            if value % d == 0:\n"
                          "                return False\n"
                          "        return True\n");
    testing_write (s_daemon.root, "configs/examples.yaml",
                   "api_key: \"corpus-key-1\"\napi_secret: \"corpus-secret-2\"\n");
    testing_daemon_start (&s_daemon, NULL);
    zsock_t *sock = testing_api_client (&s_daemon);
    json_t *run = testing_api_ok (sock, "api.execution.run",
                                  json_pack ("{s:s}", "action", "examples.print_config"));
    json_t *record = testing_api_wait_status (
        sock, json_string_value (json_object_get (run, "execution")), "completed", 20000);
    json_decref (run);
    char *text = s_dump (record);
    json_t *value = json_object_get (s_result (record), "result");
    cr_assert_str_eq (json_string_value (json_object_get (value, "region")), "us-east-1",
                      "%s", text);
    cr_assert_str_eq (json_string_value (json_object_get (value, "api_key")), "********");
    cr_assert_null (strstr (text, "corpus-secret-2"), "%s", text);
    free (text);
    json_decref (record);
    for (int n = 7; n <= 8; n++) {
        run = testing_api_ok (sock, "api.execution.run",
                              json_pack ("{s:s, s:{s:i}}", "action", "examples.isprime",
                                         "parameters", "value", n));
        record = testing_api_wait_status (
            sock, json_string_value (json_object_get (run, "execution")), "completed",
            20000);
        cr_assert_eq (json_is_true (json_object_get (s_result (record), "result")),
                      n == 7);
        json_decref (record);
        json_decref (run);
    }
    zsock_destroy (&sock);
}
