/*  test_pack_config: pack configs as StackStorm's: config.schema.yaml's
    defaults, required keys, types and secrets against configs/PACK.yaml,
    errors naming the file, the line and the key; masking; in a live
    attuned, a config that does not validate is named in the load log and
    the pack's Python actions fail with that error.
*/
#include "tests/testing_api.h"
#include "actors/pack/pack_config.h"

static char s_root[PATH_MAX - 128];
static testing_daemon_t s_daemon;

static void
s_teardown (void)
{
    testing_daemon_stop_all ();
    testing_rmtree (s_root);
    s_root[0] = 0;
}

TestSuite (pack_config, .fini = s_teardown, .timeout = 120);

//  A pack `p` in <root>/packs/p with the schema of StackStorm's examples
//  pack (from the corpus), and the config text given (NULL: no file)
static void
s_pack (const char *config)
{
    testing_tmpdir (s_root, sizeof s_root, "test_pack_config");
    char *schema =
        testing_read (ATTUNE_SHARED_DIR "/st2-packs/examples/config.schema.yaml");
    if (!*schema) { //  the corpus is not here: the same schema, written out
        free (schema);
        schema = strdup ("---\n  api_key:\n    type: \"string\"\n    secret: true\n"
                         "    required: true\n  api_secret:\n    type: \"string\"\n"
                         "    secret: true\n    required: true\n  region:\n"
                         "    type: \"string\"\n    required: true\n"
                         "    default: \"us-east-1\"\n  private_key_path:\n"
                         "    type: \"string\"\n    required: false\n");
    }
    testing_write (s_root, "packs/p/config.schema.yaml", schema);
    free (schema);
    if (config)
        testing_write (s_root, "configs/p.yaml", config);
}

static int
s_load (json_t **config, json_t **secrets, char *message)
{
    char pack_dir[PATH_MAX];
    snprintf (pack_dir, sizeof pack_dir, "%s/packs/p", s_root);
    unsetenv ("ATTUNE_CONFIGS");
    return pack_config_load (pack_dir, "p", NULL, config, secrets, message, 1024);
}

Test (pack_config, defaults_and_secrets)
{
    s_pack ("api_key: \"key-1234\"\napi_secret: \"secret-5678\"\n");
    json_t *config = NULL, *secrets = NULL;
    char message[1024] = "";
    cr_assert_eq (s_load (&config, &secrets, message), 0, "%s", message);
    cr_assert_str_eq (json_string_value (json_object_get (config, "region")),
                      "us-east-1");
    cr_assert_str_eq (json_string_value (json_object_get (config, "api_key")),
                      "key-1234");
    cr_assert_null (json_object_get (config, "private_key_path"));
    cr_assert_eq (json_array_size (secrets), 2);
    //  Masking: in text, and in every string of a value, keys included
    size_t n = 0;
    const char *text = "auth key-1234:secret-5678 key-1234";
    char *masked = pack_config_mask_text (text, strlen (text), secrets, &n);
    cr_assert_str_eq (masked, "auth ********:******** ********");
    cr_assert_eq (n, strlen (masked));
    free (masked);
    cr_assert_null (pack_config_mask_text ("nothing", 7, secrets, NULL));
    json_t *value =
        json_pack ("{s:[s,i], s:s}", "a", "x key-1234 y", 5, "secret-5678", "k");
    json_t *clean = pack_config_mask (value, secrets);
    char *dumped = json_dumps (clean, JSON_COMPACT | JSON_SORT_KEYS);
    cr_assert_str_eq (dumped, "{\"********\":\"k\",\"a\":[\"x ******** y\",5]}");
    free (dumped);
    json_decref (clean);
    json_decref (value);
    json_decref (config);
    json_decref (secrets);
}

Test (pack_config, errors_name_file_line_and_key)
{
    //  A required key missing: the config file, the key, the schema's line
    s_pack ("api_key: \"key-1234\"\n");
    char message[1024] = "";
    cr_assert_eq (s_load (NULL, NULL, message), -1);
    cr_assert (strstr (message, "configs/p.yaml: api_secret: required by "), "%s",
               message);
    cr_assert (strstr (message, "packs/p/config.schema.yaml:7, missing"), "%s", message);
    s_teardown ();

    //  A value of the wrong type: the config's line
    s_pack ("api_key: \"key-1234\"\napi_secret: x\nregion: 42\n");
    cr_assert_eq (s_load (NULL, NULL, message), -1);
    cr_assert (strstr (message, "configs/p.yaml:3: region: expected string, got integer"),
               "%s", message);
    s_teardown ();

    //  No config file at all: as StackStorm, the defaults and no checks
    s_pack (NULL);
    json_t *config = NULL;
    cr_assert_eq (s_load (&config, NULL, message), 0, "%s", message);
    cr_assert_str_eq (json_string_value (json_object_get (config, "region")),
                      "us-east-1");
    cr_assert_null (json_object_get (config, "api_key"));
    json_decref (config);
    s_teardown ();

    //  Not YAML, not a mapping
    s_pack ("api_key: [unclosed\n");
    cr_assert_eq (s_load (NULL, NULL, message), -1);
    cr_assert (strstr (message, "configs/p.yaml:"), "%s", message);
    s_teardown ();
    s_pack ("- a\n- b\n");
    cr_assert_eq (s_load (NULL, NULL, message), -1);
    cr_assert (
        strstr (message, "configs/p.yaml:1: expected a mapping of keys, got array"), "%s",
        message);
}

Test (pack_config, nested_objects_and_configs_dir)
{
    testing_tmpdir (s_root, sizeof s_root, "test_pack_config");
    testing_write (s_root, "packs/n/config.schema.yaml",
                   "auth:\n  type: object\n  properties:\n    user:\n"
                   "      type: string\n      default: stanley\n    token:\n"
                   "      type: string\n      secret: true\n      required: true\n");
    testing_write (s_root, "elsewhere/n.yaml", "auth:\n  token: tok-9999\n");
    char pack_dir[PATH_MAX], dir[PATH_MAX];
    snprintf (pack_dir, sizeof pack_dir, "%s/packs/n", s_root);
    snprintf (dir, sizeof dir, "%s/elsewhere", s_root);
    json_t *config = NULL, *secrets = NULL;
    char message[1024] = "";
    cr_assert_eq (
        pack_config_load (pack_dir, "n", dir, &config, &secrets, message, sizeof message),
        0, "%s", message);
    json_t *auth = json_object_get (config, "auth");
    cr_assert_str_eq (json_string_value (json_object_get (auth, "user")), "stanley");
    cr_assert_str_eq (json_string_value (json_array_get (secrets, 0)), "tok-9999");
    json_decref (config);
    json_decref (secrets);
    //  The default directory is <packs>/../configs; $ATTUNE_CONFIGS before it
    char *found = pack_config_dir ("/srv/attune/packs/n", NULL);
    cr_assert_str_eq (found, "/srv/attune/packs/../configs");
    free (found);
    setenv ("ATTUNE_CONFIGS", "/etc/attune/configs", 1);
    found = pack_config_dir ("/srv/attune/packs/n", NULL);
    cr_assert_str_eq (found, "/etc/attune/configs");
    free (found);
    unsetenv ("ATTUNE_CONFIGS");
    //  A nested required key missing names its path
    testing_write (s_root, "elsewhere/n.yaml", "auth:\n  user: ada\n");
    cr_assert_eq (
        pack_config_load (pack_dir, "n", dir, NULL, NULL, message, sizeof message), -1);
    cr_assert (strstr (message, "n.yaml: auth.token: required by"), "%s", message);
    cr_assert (strstr (message, "config.schema.yaml:7, missing"), "%s", message);
}

Test (pack_config, invalid_config_in_a_live_daemon)
{
    testing_daemon_init (&s_daemon, "test_pack_config");
    testing_daemon_write (&s_daemon, "bad/pack.yaml",
                          "ref: bad\nname: bad\nversion: 1.0.0\n");
    testing_daemon_write (&s_daemon, "bad/config.schema.yaml",
                          "token:\n  type: string\n  required: true\n  secret: true\n"
                          "port:\n  type: integer\n  default: 80\n");
    testing_write (s_daemon.root, "configs/bad.yaml", "token: tok-1234\nport: eighty\n");
    testing_daemon_write (&s_daemon, "bad/actions/use.yaml",
                          "name: use\npack: bad\nrunner_type: python-script\n"
                          "entry_point: use.py\n");
    testing_daemon_write (&s_daemon, "bad/actions/use.py",
                          "from st2common.runners.base_action import Action\n"
                          "class Use(Action):\n"
                          "    def run(self):\n"
                          "        return self.config\n");
    testing_daemon_start (&s_daemon, NULL);
    //  Named at load, the pack's actions still registered (as StackStorm)
    char *log = testing_daemon_read_log (&s_daemon);
    cr_assert (strstr (log, "configs/bad.yaml:2: port: expected integer, got string"),
               "%s", log);
    free (log);
    zsock_t *sock = testing_api_client (&s_daemon);
    json_t *run = testing_api_ok (sock, "api.execution.run",
                                  json_pack ("{s:s}", "action", "bad.use"));
    json_t *record = testing_api_wait_status (
        sock, json_string_value (json_object_get (run, "execution")), "failed", 20000);
    char *text = json_dumps (record, JSON_COMPACT);
    cr_assert (strstr (text, "configs/bad.yaml:2: port: expected integer, got string"),
               "%s", text);
    cr_assert_null (strstr (text, "tok-1234"), "%s", text);
    free (text);
    json_decref (record);
    json_decref (run);
    zsock_destroy (&sock);
}
