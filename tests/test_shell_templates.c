/*  test_shell_templates: the `cmd` of a shell action as StackStorm's packs
    write it (rules_template_render_shell, rules_template_render_shell_own):
    {% if %}, {% for %}, {% set %} are the author's syntax; every {{ }}
    value is one quoted word; a parameter that takes the action's own
    default is inserted as that default's shell text (itself rendered as a
    shell command). Then StackStorm's linux.scp from the corpus
    (../shared/st2-packs) through a rule, the executor and the
    remote-shell-cmd runner against a local sshd (skipped as non-root). */
#include "tests/testing.h"
#include "tests/testing_sshd.h"
#include <limits.h>
#include <sys/stat.h>

#include "actors/actor.h"
#include "actors/executor/executor.h"
#include "actors/registry/registry.h"
#include "actors/rules/rules.h"
#include "actors/rules/rules_template.h"
#include "actors/worker/worker.h"
#include "bus/bus_facts.h"
#include "bus/bus_link.h"

#define CORPUS ATTUNE_SHARED_DIR "/st2-packs"

//  ---------------------------------------------------------------------------
//  The renderer

//  `text` rendered as a shell command with `context` and `own` (JSON
//  texts; own may be NULL). Caller frees; NULL with `message` set.
static char *
s_shell (const char *text, const char *context, const char *own, char *message)
{
    json_t *c = json_loads (context, 0, NULL);
    json_t *o = own ? json_loads (own, 0, NULL) : NULL;
    cr_assert_not_null (c, "%s", context);
    json_t *out =
        rules_template_render_shell_own (text, c, o, "parameters.cmd", message, 512);
    json_decref (c);
    json_decref (o);
    char *line = out ? strdup (json_string_value (out)) : NULL;
    json_decref (out);
    return line;
}

#define EXPECT_CMD(text, context, own, expected)                                         \
    do {                                                                                 \
        char message_[512] = "";                                                         \
        char *got_ = s_shell (text, context, own, message_);                             \
        cr_assert_not_null (got_, "%s: %s", text, message_);                             \
        cr_expect_str_eq (got_, expected, "%s rendered [%s]", text, got_);               \
        free (got_);                                                                     \
    } while (0)

#define EXPECT_CMD_ERROR(text, context, own, fragment)                                   \
    do {                                                                                 \
        char message_[512] = "";                                                         \
        char *got_ = s_shell (text, context, own, message_);                             \
        cr_expect_null (got_, "%s rendered [%s]", text, got_);                           \
        free (got_);                                                                     \
        cr_expect (strstr (message_, fragment) != NULL, "%s: '%s' lacks '%s'", text,     \
                   message_, fragment);                                                  \
    } while (0)

//  The values (own defaults have a value of their own too: the normal
//  rendering, unused where the name inserts the default's shell text)
#define V_EVIL                                                                           \
    "{\"v\": \"; touch x\", \"xs\": [\"a b\", \"$(id)\"], \"on\": true, "                \
    "\"opts\": \"?\", \"more\": \"?\", \"a\": \"?\"}"

Test (shell_templates, statements_write_the_authors_text_and_values_stay_one_word)
{
    EXPECT_CMD ("{% for x in xs %}echo {{ x }};{% endfor %}", V_EVIL, NULL,
                "echo 'a b';echo '$(id)';");
    EXPECT_CMD ("ls{% if on %} -l{% endif %}{% if not on %} -a{% endif %} {{ v }}",
                V_EVIL, NULL, "ls -l '; touch x'");
    EXPECT_CMD ("{% set w = v ~ '!' %}echo {{ w }}", V_EVIL, NULL, "echo '; touch x!'");
    EXPECT_CMD ("echo {{ xs | join(' ') }}", V_EVIL, NULL, "echo 'a b $(id)'");
    //  the quoting follows the text written, not the template's source
    EXPECT_CMD ("echo {% if on %}\"{% endif %}{{ v }}{% if on %}\"{% endif %}", V_EVIL,
                NULL, "echo \"\"'; touch x'\"\"");
    EXPECT_CMD ("echo {% for x in xs %}'{% endfor %}{{ v }}", V_EVIL, NULL,
                "echo '''; touch x'");
    //  a value the shell cannot take as one word where a loop wrote it
    EXPECT_CMD_ERROR ("echo {% for x in xs %}`{% endfor %}{{ v }}", V_EVIL, NULL,
                      "after a backquote");
    EXPECT_CMD_ERROR ("{% if on %}# {% endif %}{{ v }}", V_EVIL, NULL,
                      "inside a # comment");
    //  the error names where: the template, line and column
    EXPECT_CMD_ERROR ("echo {{ nope }}", V_EVIL, NULL, "nope is not defined");
    EXPECT_CMD_ERROR ("{% for x in v %}", V_EVIL, NULL, "parameters.cmd");
}

//  StackStorm's linux.scp (../shared/st2-packs/linux/actions/scp.yaml)
#define SCP_CMD                                                                          \
    "scp {{args}} -i {{keyfile}} {{source}} {% if dest_server %}"                        \
    "{{dest_server}}:{{destination}}{% else %}{{destination}}{% endif %}"
#define SCP_ARGS                                                                         \
    "-o stricthostkeychecking=no{% if verbose %} -v{% endif %}{% if recursive == true "  \
    "%} -r{% endif %}{% if force == true %} -f{% endif %}"
#define SCP_OWN "{\"args\": \"" SCP_ARGS "\", \"keyfile\": \"/k/id_rsa\"}"
#define SCP_VALUES(recursive, dest)                                                      \
    "{\"source\": \"/s/a b\", \"destination\": \"/d\", \"verbose\": true, "              \
    "\"recursive\": " recursive ", \"force\": false, \"keyfile\": \"/k/id_rsa\", "       \
    "\"dest_server\": " dest ", \"args\": \"(the normal rendering)\"}"

Test (shell_templates, own_defaults_are_shell_text_given_values_are_words)
{
    EXPECT_CMD (SCP_CMD, SCP_VALUES ("false", "null"), SCP_OWN,
                "scp -o stricthostkeychecking=no -v -i /k/id_rsa '/s/a b' '/d'");
    EXPECT_CMD (SCP_CMD, SCP_VALUES ("true", "null"), SCP_OWN,
                "scp -o stricthostkeychecking=no -v -r -i /k/id_rsa '/s/a b' '/d'");
    EXPECT_CMD (SCP_CMD, SCP_VALUES ("false", "\"h1\""), SCP_OWN,
                "scp -o stricthostkeychecking=no -v -i /k/id_rsa '/s/a b' 'h1':'/d'");
    //  args given (not in own): one word, whatever it holds
    EXPECT_CMD (SCP_CMD, SCP_VALUES ("false", "null"), "{\"keyfile\": \"/k/id_rsa\"}",
                "scp '(the normal rendering)' -i /k/id_rsa '/s/a b' '/d'");
    //  what an own default inserts is quoted at its own level
    EXPECT_CMD ("ls {{ opts }}", V_EVIL, "{\"opts\": \"-l {{ v }}\"}",
                "ls -l '; touch x'");
    EXPECT_CMD ("ls {{ opts }}", V_EVIL, "{\"opts\": \"{{ more }}\", \"more\": \"-a\"}",
                "ls -a");
    //  only a bare name where a word can start; else the value, one word
    EXPECT_CMD ("ls \"{{ v }}\" {{ v | upper }} x{{ v }}", V_EVIL, "{\"v\": \"-l; id\"}",
                "ls \"\"'; touch x'\"\" '; TOUCH X' x-l; id");
    EXPECT_CMD_ERROR ("ls \\{{ v }}", V_EVIL, "{\"v\": \"-l\"}",
                      "right after a backslash");
    EXPECT_CMD_ERROR ("ls \"\\{{ v }}\"", V_EVIL, "{\"v\": \"-l\"}",
                      "right after a backslash");
    //  a {% set %} or loop name is not the parameter of that name
    EXPECT_CMD ("{% set v = xs[1] %}echo {{ v }}", V_EVIL, "{\"v\": \"-l\"}",
                "echo '$(id)'");
    EXPECT_CMD ("{% for v in xs %}echo {{ v }};{% endfor %}", V_EVIL, "{\"v\": \"-l\"}",
                "echo 'a b';echo '$(id)';");
    //  the shell's state after an own default is where its text left it
    EXPECT_CMD ("echo {{ a }}{{ v }}'", V_EVIL, "{\"a\": \"'x\"}", "echo 'x; touch x'");
    EXPECT_CMD_ERROR ("echo {{ a }} {{ v }}", V_EVIL, "{\"a\": \"#\"}",
                      "inside a # comment");
    EXPECT_CMD_ERROR ("echo {{ a }}", V_EVIL, "{\"a\": \"x{{ a }}\"}",
                      "its default inserts itself");
}

Test (shell_templates, the_shell_runs_the_author_text_and_each_value_as_one_word)
{
    //  /bin/sh on the rendered text: a hostile value stays one argument in
    //  text a loop or a branch wrote, and in an own default
    static const char *const hostile[] = {
        "; touch x", "$(touch x)", "`touch x`", "a'b\"c", "\n touch x", "-n", "", NULL};
    for (const char *const *value = hostile; *value; value++) {
        json_t *context = json_pack ("{s:[s,s], s:s, s:s}", "xs", *value, "b", "v",
                                     *value, "opts", "?");
        json_t *own =
            json_pack ("{s:s}", "opts", "'[%s]'{% if true %} {{ v }}{% endif %}");
        char message[512] = "";
        json_t *line = rules_template_render_shell_own (
            "printf {{ opts }}{% for x in xs %} \"<{{ x }}>\"{% endfor %}", context, own,
            "cmd", message, sizeof message);
        cr_assert_not_null (line, "%s", message);
        FILE *pipe = popen (json_string_value (line), "r");
        char out[512] = "";
        size_t n = fread (out, 1, sizeof out - 1, pipe);
        out[n] = 0;
        cr_expect_eq (pclose (pipe), 0, "%s", json_string_value (line));
        char want[512];
        snprintf (want, sizeof want, "[%s][<%s>][<b>]", *value, *value);
        cr_expect_str_eq (out, want, "sh -c [%s]", json_string_value (line));
        json_decref (line);
        json_decref (context);
        json_decref (own);
    }
}

//  ---------------------------------------------------------------------------
//  linux.scp end to end: registry, rules, executor, worker; a local sshd

static char s_root[512];
static char s_packs[PATH_MAX];
static char s_data[PATH_MAX];
static bus_topology_t *s_topology;
static zactor_t *s_actors[4];
static bus_sub_t *s_facts;
static bus_link_t *s_link;
static testing_sshd_t s_sshd;
static bool s_sshd_up;

static void
s_setup (void)
{
    testing_tmpdir (s_root, sizeof s_root, "test_shell_templates");
    snprintf (s_packs, sizeof s_packs, "%s/packs", s_root);
    snprintf (s_data, sizeof s_data, "%s/data", s_root);
    mkdir (s_packs, 0750);
    //  StackStorm's linux pack with its scp action, unchanged
    char command[PATH_MAX * 4];
    snprintf (command, sizeof command,
              "mkdir -p '%s/linux/actions' && cp '%s/linux/pack.yaml' '%s/linux/' && "
              "cp '%s/linux/actions/scp.yaml' '%s/linux/actions/'",
              s_packs, CORPUS, s_packs, CORPUS, s_packs);
    cr_assert_eq (system (command), 0, "%s", command);
    testing_write (s_packs, "test/pack.yaml", "ref: test\nname: test\nversion: 1.0.0\n");
    testing_write (s_packs, "test/triggers/hook.yaml", "name: hook\npack: test\n");
    s_sshd_up = testing_sshd_start (&s_sshd) == 0;
    char ns[64];
    snprintf (ns, sizeof ns, "shtpl-%d", getpid ());
    s_topology = bus_topology_new (ns);
}

static void
s_start (void)
{
    actor_config_t config = {.topology = s_topology,
                             .data_dir = s_data,
                             .packs_dir = s_packs,
                             .host = "test",
                             .worker_slots = 4,
                             .heartbeat_ms = 200,
                             .nosync = true};
    s_facts = bus_sub_new (0);
    bus_sub_connect (s_facts, bus_topology_connect (s_topology, "executor.facts"));
    bus_sub_subscribe (s_facts, "execution.");
    zactor_fn *fns[4] = {registry_actor, executor_actor, rules_actor, worker_actor};
    for (int i = 0; i < 4; i++) {
        s_actors[i] = zactor_new (fns[i], &config);
        cr_assert_not_null (s_actors[i]);
    }
    s_link = bus_link_new (bus_topology_connect (s_topology, "rules.commands"),
                           "client@test", NULL);
    cr_assert_not_null (s_link);
}

static void
s_teardown (void)
{
    bus_link_destroy (&s_link);
    for (int i = 3; i >= 0; i--)
        zactor_destroy (&s_actors[i]);
    bus_sub_destroy (&s_facts);
    bus_topology_destroy (&s_topology);
    testing_sshd_stop (&s_sshd);
    testing_rmtree (s_root);
}

TestSuite (shell_templates, .timeout = 60);

//  A rule running linux.scp on events of `kind` with `params` (YAML lines
//  indented by four) and the sshd's connection.
static void
s_rule (const char *kind, const char *params)
{
    char path[128], text[4096];
    snprintf (path, sizeof path, "test/rules/%s.yaml", kind);
    snprintf (text, sizeof text,
              "name: %s\npack: test\ntrigger:\n  type: test.hook\ncriteria:\n"
              "  trigger.payload.kind: {type: equals, pattern: %s}\n"
              "action:\n  ref: linux.scp\n  parameters:\n"
              "    hosts: 127.0.0.1\n    port: %d\n    username: root\n"
              "    private_key: '%s'\n    known_hosts: '%s'\n"
              "    source: '%s/from'\n    destination: '%s/to %s'\n%s",
              kind, kind, s_sshd_up ? s_sshd.port : 9, s_sshd.key, s_sshd.known, s_root,
              s_root, kind, params);
    testing_write (s_packs, path, text);
}

//  The terminal fact of rule test.`kind`'s execution after an event with
//  `payload` (taken).
static json_t *
s_run (const char *kind, json_t *payload)
{
    json_object_set_new (payload, "kind", json_string (kind));
    proto_envelope_t *event = proto_envelope_new ("event.create", "client@test");
    json_t *body = json_pack ("{s:s, s:{}, s:o}", "trigger", "test.hook",
                              "trigger_parameters", "payload", payload);
    cr_assert_eq (proto_envelope_set_payload_json (event, body, NULL), PROTO_OK);
    json_decref (body);
    cr_assert_eq (bus_link_send (s_link, &event), 0);
    char rule[128];
    snprintf (rule, sizeof rule, "test.%s", kind);
    int64_t deadline = zclock_mono () + 20000;
    while (zclock_mono () < deadline) {
        bus_link_handle (s_link);
        bus_link_tick (s_link);
        proto_envelope_t *fact = bus_sub_recv (s_facts, NULL, 50);
        json_t *done = fact ? proto_envelope_payload_json (fact, NULL) : NULL;
        proto_envelope_destroy (&fact);
        const char *status = json_string_value (json_object_get (done, "status"));
        const char *field = json_string_value (json_object_get (done, "rule"));
        if (status && field && streq (field, rule) && testing_status_terminal (status))
            return done;
        json_decref (done);
    }
    cr_assert_fail ("no end of %s", rule);
    return NULL;
}

//  The cmd the execution ran
static const char *
s_cmd (const json_t *done)
{
    return json_string_value (
        json_object_get (json_object_get (done, "parameters"), "cmd"));
}

static bool
s_exists (const char *name)
{
    char path[PATH_MAX + 64];
    snprintf (path, sizeof path, "%s/%s", s_root, name);
    struct stat st;
    return stat (path, &st) == 0;
}

Test (shell_templates, stackstorms_linux_scp_runs_as_in_stackstorm, .init = s_setup,
      .fini = s_teardown)
{
    testing_write (s_root, "from", "copied\n");
    s_rule ("plain", "");
    s_rule ("recursive", "    recursive: true\n");
    s_rule ("remote", "    dest_server: backup.example\n");
    s_rule ("evil", "    args: \"{{ trigger.payload.args }}\"\n");
    s_start ();
    char want[PATH_MAX * 3];
    json_t *done = s_run ("plain", json_object ());
    snprintf (want, sizeof want,
              "scp -o stricthostkeychecking=no -v -i /home/stanley/.ssh/stanley_rsa "
              "'%s/from' '%s/to plain'",
              s_root, s_root);
    cr_expect_str_eq (s_cmd (done), want);
    if (s_sshd_up) {
        cr_expect_str_eq (json_string_value (json_object_get (done, "status")),
                          "completed", "%s", json_dumps (done, 0));
        cr_expect (s_exists ("to plain"), "scp copied the file");
    }
    json_decref (done);
    done = s_run ("recursive", json_object ());
    snprintf (want, sizeof want,
              "scp -o stricthostkeychecking=no -v -r -i /home/stanley/.ssh/stanley_rsa "
              "'%s/from' '%s/to recursive'",
              s_root, s_root);
    cr_expect_str_eq (s_cmd (done), want);
    cr_expect (!s_sshd_up || s_exists ("to recursive"));
    json_decref (done);
    done = s_run ("remote", json_object ());
    snprintf (want, sizeof want,
              "scp -o stricthostkeychecking=no -v -i /home/stanley/.ssh/stanley_rsa "
              "'%s/from' 'backup.example':'%s/to remote'",
              s_root, s_root);
    cr_expect_str_eq (s_cmd (done), want);
    json_decref (done);
    //  args from an event: one word, nothing of it runs
    char args[PATH_MAX + 64];
    snprintf (args, sizeof args, "-v; touch '%s/pwned'", s_root);
    done = s_run ("evil", json_pack ("{s:s}", "args", args));
    char *quoted = rules_template_shell_quote (args);
    snprintf (want, sizeof want,
              "scp %s -i /home/stanley/.ssh/stanley_rsa '%s/from' '%s/to evil'", quoted,
              s_root, s_root);
    free (quoted);
    cr_expect_str_eq (s_cmd (done), want);
    cr_expect_str_neq (json_string_value (json_object_get (done, "status")), "completed");
    cr_expect (!s_exists ("pwned"), "the event's args ran nothing");
    cr_expect (!s_exists ("to evil"));
    json_decref (done);
}
