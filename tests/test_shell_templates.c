/*  test_shell_templates: the `cmd` of a shell action as StackStorm's packs
    write it (rules_template_render_shell, rules_template_render_shell_own):
    {% if %}, {% for %}, {% set %} are the author's syntax; every {{ }}
    value is one quoted word; a parameter that takes the action's own
    default is inserted as that default's shell text (itself rendered as a
    shell command). Then StackStorm's linux.scp from the corpus
    (../shared/st2-packs) through a rule, the executor and the
    remote-shell-cmd runner against a local sshd (skipped as non-root). */
#include "tests/testing_st2.h"
#include "tests/testing_sshd.h"
#include "actors/rules/rules_template.h"

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

static testing_st2_t s_st2;
static testing_sshd_t s_sshd;
static bool s_sshd_up;

static void
s_setup (void)
{
    testing_st2_init (&s_st2, "test_shell_templates", "shtpl", 0);
    s_st2.timeout_ms = 20000; //  scp over ssh, under a busy ctest
    //  StackStorm's linux pack with its scp action, unchanged
    char command[PATH_MAX * 4];
    snprintf (command, sizeof command,
              "mkdir -p '%s/linux/actions' && cp '%s/linux/pack.yaml' '%s/linux/' && "
              "cp '%s/linux/actions/scp.yaml' '%s/linux/actions/'",
              s_st2.packs, CORPUS, s_st2.packs, CORPUS, s_st2.packs);
    cr_assert_eq (system (command), 0, "%s", command);
    s_sshd_up = testing_sshd_start (&s_sshd) == 0;
}

static void
s_teardown (void)
{
    testing_st2_fini (&s_st2);
    testing_sshd_stop (&s_sshd);
}

TestSuite (shell_templates, .timeout = 60);

//  A rule running linux.scp on events of `kind` with `params` (YAML lines
//  indented by four) and the sshd's connection.
static void
s_rule (const char *kind, const char *params)
{
    char text[PATH_MAX * 3];
    snprintf (text, sizeof text,
              "    hosts: 127.0.0.1\n    port: %d\n    username: root\n"
              "    private_key: '%s'\n    known_hosts: '%s'\n"
              "    source: '%s/from'\n    destination: '%s/to %s'\n%s",
              s_sshd_up ? s_sshd.port : 9, s_sshd.key, s_sshd.known, s_st2.root,
              s_st2.root, kind, params);
    testing_st2_rule (&s_st2, kind, "linux.scp", text);
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
    snprintf (path, sizeof path, "%s/%s", s_st2.root, name);
    struct stat st;
    return stat (path, &st) == 0;
}

Test (shell_templates, stackstorms_linux_scp_runs_as_in_stackstorm, .init = s_setup,
      .fini = s_teardown)
{
    testing_write (s_st2.root, "from", "copied\n");
    s_rule ("plain", "");
    s_rule ("recursive", "    recursive: true\n");
    s_rule ("remote", "    dest_server: backup.example\n");
    s_rule ("evil", "    args: \"{{ trigger.payload.args }}\"\n");
    testing_st2_start (&s_st2);
    char want[PATH_MAX * 3];
    json_t *done = testing_st2_run (&s_st2, "plain", json_object ());
    snprintf (want, sizeof want,
              "scp -o stricthostkeychecking=no -v -i /home/stanley/.ssh/stanley_rsa "
              "'%s/from' '%s/to plain'",
              s_st2.root, s_st2.root);
    cr_expect_str_eq (s_cmd (done), want);
    if (s_sshd_up) {
        cr_expect_str_eq (json_string_value (json_object_get (done, "status")),
                          "completed", "%s", json_dumps (done, 0));
        cr_expect (s_exists ("to plain"), "scp copied the file");
    }
    json_decref (done);
    done = testing_st2_run (&s_st2, "recursive", json_object ());
    snprintf (want, sizeof want,
              "scp -o stricthostkeychecking=no -v -r -i /home/stanley/.ssh/stanley_rsa "
              "'%s/from' '%s/to recursive'",
              s_st2.root, s_st2.root);
    cr_expect_str_eq (s_cmd (done), want);
    cr_expect (!s_sshd_up || s_exists ("to recursive"));
    json_decref (done);
    done = testing_st2_run (&s_st2, "remote", json_object ());
    snprintf (want, sizeof want,
              "scp -o stricthostkeychecking=no -v -i /home/stanley/.ssh/stanley_rsa "
              "'%s/from' 'backup.example':'%s/to remote'",
              s_st2.root, s_st2.root);
    cr_expect_str_eq (s_cmd (done), want);
    json_decref (done);
    //  args from an event: one word, nothing of it runs
    char args[PATH_MAX + 64];
    snprintf (args, sizeof args, "-v; touch '%s/pwned'", s_st2.root);
    done = testing_st2_run (&s_st2, "evil", json_pack ("{s:s}", "args", args));
    char *quoted = rules_template_shell_quote (args);
    snprintf (want, sizeof want,
              "scp %s -i /home/stanley/.ssh/stanley_rsa '%s/from' '%s/to evil'", quoted,
              s_st2.root, s_st2.root);
    free (quoted);
    cr_expect_str_eq (s_cmd (done), want);
    cr_expect_str_neq (json_string_value (json_object_get (done, "status")), "completed");
    cr_expect (!s_exists ("pwned"), "the event's args ran nothing");
    cr_expect (!s_exists ("to evil"));
    json_decref (done);
}
