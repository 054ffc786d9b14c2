/*  worker_ssh: the remote-shell runners over libssh (worker_ssh.h). */
#include "actors/worker/worker_shell.h"
#include "actors/worker/worker_ssh.h"
#include "actors/worker/worker_ssh_exec.h"
#include "actors/worker/worker_ssh_tunnel.h"

#include <ctype.h>
#include <errno.h>
#include <libssh/libssh.h>
#include <pthread.h>
#include <pwd.h>
#include <unistd.h>

typedef struct {
    worker_task_t *task;
    const json_t *p;
    const char *command; //  what runs: the cmd, or the script's command line
    char *owned;         //  ... when built here
    char *script;        //  remote-shell-script: its text
    size_t script_size;
    char *dir;  //  ... the directory it is copied to
    char *path; //  ... and its path there
    size_t cap;
    int64_t timeout_ms;
    char user[128];
    char bastion[256]; //  bastion_host, "" for none
    int bastion_port;
} s_run_t;

typedef struct {
    s_run_t *run;
    char key[300]; //  as the hosts parameter says it (the result's key)
    char host[256];
    int port;
    json_t *result;
    bool timed_out;
    bool threaded;
    bool is_bastion;             //  this is the bastion itself
    worker_ssh_tunnel_t *tunnel; //  through bastion_host
    pthread_t thread;
} s_host_t;

static pthread_once_t s_once = PTHREAD_ONCE_INIT;

static void
s_global_init (void)
{
    ssh_init ();
}

char *
worker_ssh_quote (const char *text)
{
    size_t n = 3;
    for (const char *c = text; *c; c++)
        n += *c == '\'' ? 4 : 1;
    char *out = (char *)malloc (n), *o = out;
    if (!out)
        return NULL;
    *o++ = '\'';
    for (const char *c = text; *c; c++) {
        if (*c == '\'') {
            memcpy (o, "'\\''", 4);
            o += 4;
        } else
            *o++ = *c;
    }
    *o++ = '\'';
    *o = 0;
    return out;
}

static const char *
s_string (const json_t *p, const char *name)
{
    const char *value = json_string_value (json_object_get (p, name));
    return value && *value ? value : NULL;
}

static json_t *
s_host_error (const char *message)
{
    return json_pack ("{s:b, s:b, s:i, s:s, s:s, s:s}", "failed", 1, "succeeded", 0,
                      "return_code", 255, "stdout", "", "stderr", "", "error", message);
}

//  Fail closed: the host's key must be in known_hosts, and the same.
static int
s_check_host_key (ssh_session session, const char *host, const char *file, char *message,
                  size_t size)
{
    enum ssh_known_hosts_e state = ssh_session_is_known_server (session);
    if (state == SSH_KNOWN_HOSTS_OK)
        return 0;
    const char *why =
        state == SSH_KNOWN_HOSTS_CHANGED ? "its host key differs from the one in"
        : state == SSH_KNOWN_HOSTS_OTHER ? "its host key is of another type than in"
        : state == SSH_KNOWN_HOSTS_ERROR ? "its host key could not be checked against"
                                         : "its host key is not in";
    snprintf (message, size, "%s: %s %s: refusing to connect", host, why,
              file ? file : "the known_hosts file");
    return -1;
}

static int
s_authenticate (ssh_session session, const s_run_t *run, const char *host, char *message,
                size_t size)
{
    const char *key = s_string (run->p, "private_key");
    const char *password = s_string (run->p, "password");
    const char *passphrase = s_string (run->p, "passphrase");
    int rc = SSH_AUTH_DENIED;
    if (key) {
        ssh_key pkey = NULL;
        int imported =
            strstr (key, "-----BEGIN")
                ? ssh_pki_import_privkey_base64 (key, passphrase, NULL, NULL, &pkey)
                : ssh_pki_import_privkey_file (key, passphrase, NULL, NULL, &pkey);
        if (imported != SSH_OK) {
            snprintf (message, size, "%s: private_key: cannot read the key", host);
            return -1;
        }
        rc = ssh_userauth_publickey (session, NULL, pkey);
        ssh_key_free (pkey);
    } else if (password)
        rc = ssh_userauth_password (session, NULL, password);
    else
        rc = ssh_userauth_publickey_auto (session, NULL, passphrase);
    if (rc == SSH_AUTH_SUCCESS)
        return 0;
    snprintf (message, size, "%s: authentication failed for user %s (%s)", host,
              run->user,
              key        ? "private_key"
              : password ? "password"
                         : "default keys");
    return -1;
}

static ssh_session s_connect (s_host_t *h, char *message, size_t size);

//  Through bastion_host: `session` set to use a tunnel from the bastion,
//  which is connected with the same user, credentials and known_hosts. 0,
//  or -1 with `message`.
static int
s_through_bastion (s_host_t *h, ssh_session session, char *message, size_t size)
{
    s_host_t b = {.run = h->run, .port = h->run->bastion_port, .is_bastion = true};
    snprintf (b.host, sizeof b.host, "%s", h->run->bastion);
    char why[600];
    ssh_session hop = s_connect (&b, why, sizeof why);
    if (!hop) {
        snprintf (message, size, "%s: bastion_host %.300s", h->host, why);
        return -1;
    }
    h->tunnel = worker_ssh_tunnel_new (&hop, h->host, h->port, message, size);
    if (!h->tunnel)
        return -1;
    socket_t fd = worker_ssh_tunnel_fd (h->tunnel);
    ssh_options_set (session, SSH_OPTIONS_FD, &fd);
    return 0;
}

static ssh_session
s_connect (s_host_t *h, char *message, size_t size)
{
    const s_run_t *run = h->run;
    ssh_session session = ssh_new ();
    if (!session) {
        snprintf (message, size, "%s: out of memory", h->host);
        return NULL;
    }
    long connect_s = run->timeout_ms / 1000 > 0 ? run->timeout_ms / 1000 : 1;
    if (connect_s > 30)
        connect_s = 30;
    unsigned int port = (unsigned int)h->port;
    const char *known = s_string (run->p, "known_hosts");
    if (!known)
        known = getenv ("ATTUNE_SSH_KNOWN_HOSTS");
    ssh_options_set (session, SSH_OPTIONS_HOST, h->host);
    ssh_options_set (session, SSH_OPTIONS_PORT, &port);
    ssh_options_set (session, SSH_OPTIONS_USER, run->user);
    ssh_options_set (session, SSH_OPTIONS_TIMEOUT, &connect_s);
    //  No ~/.ssh/config: what connects is what the parameters say
    bool no = false;
    ssh_options_set (session, SSH_OPTIONS_PROCESS_CONFIG, &no);
    if (known) {
        ssh_options_set (session, SSH_OPTIONS_KNOWNHOSTS, known);
        ssh_options_set (session, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null");
    }
    if (!h->is_bastion && *run->bastion &&
        s_through_bastion (h, session, message, size) != 0) {
        ssh_free (session);
        return NULL;
    }
    if (ssh_connect (session) != SSH_OK) {
        snprintf (message, size, "%s: cannot connect%s: %s", h->host,
                  h->tunnel ? " through bastion_host" : "", ssh_get_error (session));
        ssh_free (session);
        return NULL;
    }
    if (s_check_host_key (session, h->host, known, message, size) != 0 ||
        s_authenticate (session, run, h->host, message, size) != 0) {
        ssh_disconnect (session);
        ssh_free (session);
        return NULL;
    }
    return session;
}

//  One host: connect, copy the script, run, clean up.
static void *
s_run_host (void *arg)
{
    s_host_t *h = (s_host_t *)arg;
    const s_run_t *run = h->run;
    char message[600] = "";
    //  `timeout` bounds the command, as StackStorm's; connecting has its own
    //  (at most 30 s, SSH_OPTIONS_TIMEOUT)
    ssh_session session = s_connect (h, message, sizeof message);
    if (!session) {
        h->result = s_host_error (message);
        worker_ssh_tunnel_destroy (&h->tunnel);
        return NULL;
    }
    int64_t deadline = zclock_mono () + run->timeout_ms;
    worker_ssh_exec_t x = {.task = run->task, .cap = run->cap};
    int rc = 0;
    if (run->script) {
        char *dir = worker_ssh_quote (run->dir);
        char *path = worker_ssh_quote (run->path);
        char *copy = zsys_sprintf (
            "umask 077 && mkdir -p -- %s && cat > %s && chmod 700 %s", dir, path, path);
        free (path);
        rc = worker_ssh_exec (session, &x, copy, run->script, run->script_size, false,
                              deadline, message, sizeof message);
        if (rc == 0 && x.code != 0)
            snprintf (message, sizeof message, "cannot copy the script to %s: %.200s",
                      run->dir, x.err.data ? x.err.data : "");
        free (copy);
        free (dir);
        rc = rc == 0 && x.code == 0 ? 0 : -1;
        worker_ssh_exec_reset (&x);
    }
    if (rc == 0)
        rc = worker_ssh_exec (session, &x, run->command, NULL, 0, true, deadline, message,
                              sizeof message);
    h->result =
        rc == 0 ? worker_ssh_exec_result (&x, run->timeout_ms) : s_host_error (message);
    h->timed_out = x.timed_out;
    if (run->script) {
        char *dir = worker_ssh_quote (run->dir);
        char *clean = zsys_sprintf ("rm -rf -- %s", dir);
        worker_ssh_exec_t gone = {.task = run->task, .cap = run->cap};
        worker_ssh_exec (session, &gone, clean, NULL, 0, false, zclock_mono () + 10000,
                         message, sizeof message);
        worker_ssh_exec_reset (&gone);
        free (clean);
        free (dir);
    }
    worker_ssh_exec_reset (&x);
    ssh_disconnect (session);
    ssh_free (session);
    worker_ssh_tunnel_destroy (&h->tunnel);
    return NULL;
}

//  `text` + " " + `word` quoted; frees `text`. NULL when out of memory.
static char *
s_add_word (char *text, const char *word)
{
    char *quoted = text ? worker_ssh_quote (word) : NULL;
    char *joined = quoted ? zsys_sprintf ("%s %s", text, quoted) : NULL;
    free (quoted);
    free (text);
    return joined;
}

//  A parameter's value as an argument: a string as it is, else its JSON.
static char *
s_arg_text (const json_t *value)
{
    return json_is_string (value) ? strdup (json_string_value (value))
                                  : json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY);
}

//  The names with a `position` in the action's schema, in order: the
//  dispatch's `positional` when it carries one.
static json_t *
s_positional (const json_t *action)
{
    const json_t *given = json_object_get (action, "positional");
    if (json_is_array (given))
        return json_incref ((json_t *)given);
    json_t *names = json_array ();
    const char *name;
    json_t *spec;
    for (json_int_t at = 0; at < 64; at++)
        json_object_foreach (json_object_get (action, "parameters"), name, spec)
        {
            if (json_integer_value (json_object_get (spec, "position")) == at &&
                json_is_integer (json_object_get (spec, "position")))
                json_array_append_new (names, json_string (name));
        }
    return names;
}

//  The script's arguments as local-shell-script passes them (one builder for
//  both: worker_shell.h), each one quoted word, appended to `line` (freed).
//  `sudo` is not the script's: it wraps the whole line (s_command_line).
static char *
s_arguments (char *line, const json_t *p, const json_t *action)
{
    json_t *plain = json_copy ((json_t *)p);
    json_t *positional = s_positional (action);
    json_object_del (plain, "sudo");
    char message[256];
    char **argv = plain ? worker_shell_script_argv ("remote-shell-script", "-", plain,
                                                    positional, message, sizeof message)
                        : NULL;
    json_decref (plain);
    json_decref (positional);
    if (!argv) {
        free (line);
        return NULL;
    }
    for (size_t i = 1; line && argv[i]; i++)
        line = s_add_word (line, argv[i]);
    worker_shell_free (argv);
    return line;
}

#define S_SCRIPT_MAX (4 << 20)

//  remote-shell-script: the script's text, where it goes, how it is called.
static int
s_prepare_script (s_run_t *run, const json_t *action, char *message, size_t size)
{
    const char *entry = json_string_value (json_object_get (action, "entry_point"));
    const char *pack_dir = json_string_value (json_object_get (action, "pack_dir"));
    if (!entry || !*entry) {
        snprintf (message, size, "remote-shell-script: the action has no entry_point");
        return -1;
    }
    char *local = entry[0] == '/'
                      ? strdup (entry)
                      : zsys_sprintf ("%s/actions/%s", pack_dir ? pack_dir : ".", entry);
    FILE *file = local ? fopen (local, "rb") : NULL;
    if (file) {
        run->script = (char *)malloc (S_SCRIPT_MAX);
        run->script_size = run->script ? fread (run->script, 1, S_SCRIPT_MAX, file) : 0;
        bool whole = run->script && feof (file);
        fclose (file);
        if (!whole) {
            snprintf (message, size, "remote-shell-script: %s: larger than %d bytes",
                      entry, S_SCRIPT_MAX);
            free (local);
            return -1;
        }
    } else {
        snprintf (message, size, "remote-shell-script: cannot read %s: %s", entry,
                  strerror (errno));
        free (local);
        return -1;
    }
    free (local);
    const char *base = strrchr (entry, '/') ? strrchr (entry, '/') + 1 : entry;
    const char *dir = s_string (run->p, "dir");
    run->dir =
        zsys_sprintf ("%s/attune-%08x%08x", dir ? dir : "/tmp",
                      (unsigned)randof (0x7fffffff), (unsigned)randof (0x7fffffff));
    run->path = run->dir ? zsys_sprintf ("%s/%s", run->dir, base) : NULL;
    char *line = run->path ? worker_ssh_quote (run->path) : NULL;
    run->owned = line ? s_arguments (line, run->p, action) : NULL;
    return 0;
}

//  The command line: env exported, cwd entered (or nothing runs), the
//  action's command, all under sudo when asked. Each value one word.
static char *
s_command_line (const s_run_t *run, const char *command, char *message, size_t size)
{
    char *line = strdup ("");
    const json_t *env = json_object_get (run->p, "env");
    const char *name;
    json_t *value;
    json_object_foreach ((json_t *)env, name, value)
    {
        if (!*name ||
            strspn (name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                          "0123456789_") != strlen (name) ||
            isdigit ((unsigned char)*name)) {
            snprintf (message, size, "env: '%.64s' is not a variable name", name);
            free (line);
            return NULL;
        }
        char *text = s_arg_text (value);
        char *quoted = text ? worker_ssh_quote (text) : NULL;
        char *next =
            line && quoted ? zsys_sprintf ("%sexport %s=%s\n", line, name, quoted) : NULL;
        free (text);
        free (quoted);
        free (line);
        line = next;
    }
    const char *cwd = s_string (run->p, "cwd");
    if (line && cwd) {
        char *quoted = worker_ssh_quote (cwd);
        char *next =
            quoted ? zsys_sprintf ("%scd -- %s || exit 1\n", line, quoted) : NULL;
        free (quoted);
        free (line);
        line = next;
    }
    char *full = line ? zsys_sprintf ("%s%s", line, command) : NULL;
    free (line);
    if (full && json_is_true (json_object_get (run->p, "sudo"))) {
        char *quoted = worker_ssh_quote (full);
        free (full);
        full = quoted ? zsys_sprintf ("sudo -E -- bash -c %s", quoted) : NULL;
        free (quoted);
    }
    if (!full)
        snprintf (message, size, "out of memory");
    return full;
}

//  The hosts: "a, b:2222" or ["a", "b"]; each once. Their count, or -1.
static int
s_hosts (const json_t *p, s_host_t *hosts, int max, char *message, size_t size)
{
    const json_t *value = json_object_get (p, "hosts");
    char *list =
        json_is_string (value) ? strdup (json_string_value (value)) : strdup ("");
    for (size_t i = 0; json_is_array (value) && list && i < json_array_size (value);
         i++) {
        const char *one = json_string_value (json_array_get (value, i));
        char *next = zsys_sprintf ("%s,%s", list, one ? one : "");
        free (list);
        list = next;
    }
    const json_t *port = json_object_get (p, "port");
    int count = 0;
    char *save = NULL;
    for (char *t = list ? strtok_r (list, ", \t", &save) : NULL; t;
         t = strtok_r (NULL, ", \t", &save)) {
        char key[300];
        snprintf (key, sizeof key, "%s", t);
        char *colon = strchr (t, ':');
        int host_port = json_is_integer (port) ? (int)json_integer_value (port) : 22;
        if (colon && !strchr (colon + 1, ':')) {
            *colon = 0;
            host_port = atoi (colon + 1);
        }
        bool seen = false;
        for (int i = 0; i < count; i++)
            seen = seen || streq (hosts[i].key, key);
        if (seen)
            continue;
        if (count == max || strlen (t) >= sizeof hosts[0].host || host_port <= 0 ||
            host_port > 65535) {
            snprintf (message, size, "hosts: '%.64s' %s", t,
                      count == max ? "is one too many" : "is not a host[:port]");
            free (list);
            return -1;
        }
        snprintf (hosts[count].key, sizeof hosts[count].key, "%s", key);
        snprintf (hosts[count].host, sizeof hosts[count].host, "%s", t);
        hosts[count++].port = host_port;
    }
    free (list);
    if (count == 0)
        snprintf (message, size, "hosts: no host to run on");
    return count ? count : -1;
}

//  bastion_host: "host" or "host:port" (22). 0, or -1 with `message`.
static int
s_bastion (s_run_t *run, char *message, size_t size)
{
    const char *text = s_string (run->p, "bastion_host");
    if (!text || !*text)
        return 0;
    snprintf (run->bastion, sizeof run->bastion, "%s", text);
    char *colon = strchr (run->bastion, ':');
    run->bastion_port = 22;
    if (colon && !strchr (colon + 1, ':')) {
        *colon = 0;
        char *end;
        long port = strtol (colon + 1, &end, 10);
        run->bastion_port = *end || port <= 0 || port > 65535 ? -1 : (int)port;
    }
    if (strlen (text) >= sizeof run->bastion || !*run->bastion || run->bastion_port < 0) {
        snprintf (message, size, "bastion_host: '%.64s' is not a host[:port]", text);
        return -1;
    }
    return 0;
}

static int
s_prepare (s_run_t *run, const json_t *action, int hosts, char *message, size_t size)
{
    const char *user = s_string (run->p, "username");
    if (!user) {
        struct passwd pw, *found = NULL;
        char buffer[1024];
        if (getpwuid_r (geteuid (), &pw, buffer, sizeof buffer, &found) == 0 && found)
            snprintf (run->user, sizeof run->user, "%s", found->pw_name);
    } else
        snprintf (run->user, sizeof run->user, "%s", user);
    if (s_bastion (run, message, size) != 0)
        return -1;
    const json_t *timeout = json_object_get (run->p, "timeout");
    double seconds = json_is_number (timeout) ? json_number_value (timeout) : 0;
    run->timeout_ms = (int64_t)((seconds > 0 ? seconds : WORKER_SSH_TIMEOUT_S) * 1000);
    run->cap = WORKER_SSH_OUTPUT / (size_t)hosts;
    if (run->cap < 16384)
        run->cap = 16384;
    const char *runner = json_string_value (json_object_get (action, "runner_type"));
    const char *command = s_string (run->p, "cmd");
    if (runner && streq (runner, "remote-shell-script")) {
        if (s_prepare_script (run, action, message, size) != 0)
            return -1;
        command = run->owned;
    } else if (!command)
        command = json_string_value (json_object_get (action, "entry_point"));
    if (!command || !*command) {
        snprintf (message, size, "%s: no command to run", runner ? runner : "remote");
        return -1;
    }
    char *line = s_command_line (run, command, message, size);
    free (run->owned);
    run->owned = line;
    run->command = line;
    return line ? 0 : -1;
}

//  Every host, WORKER_SSH_PARALLEL at a time (or one at a time).
static void
s_run_hosts (s_host_t *hosts, int count, bool parallel)
{
    for (int first = 0; first < count; first += WORKER_SSH_PARALLEL) {
        int last =
            first + WORKER_SSH_PARALLEL < count ? first + WORKER_SSH_PARALLEL : count;
        for (int i = first; i < last; i++) {
            hosts[i].threaded = parallel && pthread_create (&hosts[i].thread, NULL,
                                                            s_run_host, &hosts[i]) == 0;
            if (!hosts[i].threaded)
                s_run_host (&hosts[i]);
        }
        for (int i = first; i < last; i++)
            if (hosts[i].threaded)
                pthread_join (hosts[i].thread, NULL);
    }
}

json_t *
worker_ssh_run (worker_task_t *task, const json_t *parameters, const json_t *action,
                const char **status)
{
    pthread_once (&s_once, s_global_init);
    *status = "failed";
    char message[600];
    s_host_t *hosts = (s_host_t *)calloc (WORKER_SSH_MAX_HOSTS, sizeof (s_host_t));
    s_run_t run = {.task = task, .p = parameters};
    int count =
        hosts ? s_hosts (parameters, hosts, WORKER_SSH_MAX_HOSTS, message, sizeof message)
              : -1;
    if (!hosts)
        snprintf (message, sizeof message, "out of memory");
    json_t *result = NULL;
    if (count > 0 && s_prepare (&run, action, count, message, sizeof message) == 0) {
        for (int i = 0; i < count; i++)
            hosts[i].run = &run;
        const json_t *parallel = json_object_get (parameters, "parallel");
        s_run_hosts (hosts, count, !json_is_false (parallel));
        result = json_object ();
        bool all = true, timed_out = false;
        for (int i = 0; i < count; i++) {
            all = all && json_is_true (json_object_get (hosts[i].result, "succeeded"));
            timed_out = timed_out || hosts[i].timed_out;
            json_object_set_new (result, hosts[i].key, hosts[i].result);
        }
        *status = all ? "completed" : timed_out ? "timeout" : "failed";
    } else
        result = json_pack ("{s:s}", "error", message);
    free (hosts);
    free (run.owned);
    free (run.script);
    free (run.dir);
    free (run.path);
    return result;
}
