/*  sensor_python: supervised Python sensor processes (sensor_python.h).
*/
#include "actors/sensor/sensor_python.h"
#include "actors/pack/pack_config.h"
#include "actors/worker/worker_python.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_BACKOFF_MIN_MS 1000
#define S_BACKOFF_MAX_MS 60000
#define S_GRACE_MS       5000
#define S_LINE_MAX       4096

typedef struct {
    char *ref;
    json_t *definition; //  the sensor definition it runs (NULL once deleted)
    json_t *triggers;   //  instance id -> instance sent to it
    json_t *secrets;    //  the pack config's secret values, masked in its log
    char *cmd;          //  its command line, as StackStorm's process_spawn has it
    pid_t pid;          //  0 when not running
    int in_fd, out_fd;  //  its stdin, its stdout + stderr; -1 when closed
    char line[S_LINE_MAX];
    size_t line_size;
    bool wanted;        //  enabled and defined: keep it running
    int64_t started_us; //  when it was last started
    int64_t restart_us; //  when to start it again (0: not waiting)
    int64_t kill_us;    //  SIGKILL when still alive then (0: not stopping)
    int backoff_ms;     //  the next restart's delay
    unsigned restarts;  //  starts after the first
    char last_exit[64]; //  how it last ended ("" before it did)
} s_child_t;

struct _sensor_python_t {
    actor_loop_t *loop;
    zhashx_t *children; //  ref -> s_child_t
    sensor_python_process_fn *on_process;
    void *arg;
};

static void
s_child_destroy (void **item_p)
{
    s_child_t *child = (s_child_t *)*item_p;
    if (child) {
        if (child->in_fd >= 0)
            close (child->in_fd);
        if (child->out_fd >= 0)
            close (child->out_fd);
        free (child->ref);
        free (child->cmd);
        json_decref (child->definition);
        json_decref (child->triggers);
        json_decref (child->secrets);
        free (child);
        *item_p = NULL;
    }
}

//  ---------------------------------------------------------------------------
//  Output

static void
s_log_line (s_child_t *child, const char *text, size_t size)
{
    size_t masked_size = 0;
    char *masked = pack_config_mask_text (text, size, child->secrets, &masked_size);
    zsys_info ("sensor %s: %.*s", child->ref, (int)(masked ? masked_size : size),
               masked ? masked : text);
    free (masked);
}

//  Read what the child wrote; log whole lines. Closes the fd at EOF.
static void
s_read (s_child_t *child)
{
    char buffer[4096];
    ssize_t n;
    while ((n = read (child->out_fd, buffer, sizeof buffer)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            char c = buffer[i];
            if (c == '\n' || child->line_size == S_LINE_MAX - 1) {
                s_log_line (child, child->line, child->line_size);
                child->line_size = 0;
                if (c == '\n')
                    continue;
            }
            child->line[child->line_size++] = c;
        }
    }
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        if (child->line_size)
            s_log_line (child, child->line, child->line_size);
        child->line_size = 0;
        close (child->out_fd);
        child->out_fd = -1;
    }
}

static void
s_on_output (void *unused, void *arg, int fd, short revents)
{
    s_read ((s_child_t *)arg);
}

//  Write all of `data` to a non-blocking fd, waiting at most `timeout_ms`
//  for room. 0 or -1.
static int
s_write_all (int fd, const char *data, size_t size, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (size > 0) {
        ssize_t n = write (fd, data, size);
        if (n > 0) {
            data += n;
            size -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return -1;
        int64_t left = deadline - zclock_mono ();
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        if (left <= 0 || poll (&pfd, 1, (int)left) < 0)
            return -1;
    }
    return 0;
}

//  One JSON line to the child's stdin. A child that does not take it
//  within 2 s is killed (it starts again with the whole state).
static void
s_send (s_child_t *child, json_t *message)
{
    char *text = json_dumps (message, JSON_COMPACT);
    json_decref (message);
    char *line = text ? zsys_sprintf ("%s\n", text) : NULL;
    free (text);
    if (line && child->in_fd >= 0 &&
        s_write_all (child->in_fd, line, strlen (line), 2000) != 0) {
        zsys_warning ("sensor %s: does not read its stdin (%s): restarting it",
                      child->ref, strerror (errno));
        kill (child->pid, SIGKILL);
    }
    zstr_free (&line);
}

//  ---------------------------------------------------------------------------
//  Processes

//  The environment of a sensor process. Caller frees each and the array.
static char **
s_environment (const char *pack, const char *ref)
{
    char **envp = (char **)calloc (12, sizeof (char *));
    int n = 0;
    const char *keep[] = {"PATH", "HOME", "LANG", "ATTUNE_API", "ATTUNE_IDENTITY", NULL};
    for (int i = 0; keep[i]; i++) {
        const char *value = getenv (keep[i]);
        if (value && *value)
            envp[n++] = zsys_sprintf ("%s=%s", keep[i], value);
    }
    envp[n++] = zsys_sprintf ("PYTHONPATH=%s", worker_python_dir ());
    envp[n++] = zsys_sprintf ("ATTUNE_PACK=%s", pack);
    envp[n++] = zsys_sprintf ("ATTUNE_SENSOR=%s", ref);
    envp[n++] = strdup ("PYTHONUNBUFFERED=1");
    return envp;
}

static void
s_free_strings (char **strings)
{
    for (int i = 0; strings && strings[i]; i++)
        free (strings[i]);
    free (strings);
}

//  fork + exec the wrapper. 0, or -1 (logged).
static int
s_spawn (s_child_t *child, const char *pack, char *message, size_t size)
{
    char *interpreter = worker_python_interpreter (pack);
    char *wrapper =
        zsys_sprintf ("%s/attune_st2/sensor_wrapper.py", worker_python_dir ());
    char *argv[] = {interpreter, wrapper, NULL};
    char **envp = s_environment (pack, child->ref);
    int in[2] = {-1, -1}, out[2] = {-1, -1};
    int rc = -1;
    if (!interpreter || !wrapper || !envp || pipe2 (in, O_CLOEXEC) != 0 ||
        pipe2 (out, O_CLOEXEC) != 0) {
        snprintf (message, size, "cannot start: %s", strerror (errno));
        goto done;
    }
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid == 0) {
        //  Only async-signal-safe calls from here to exec
        if (setpgid (0, 0) != 0 || prctl (PR_SET_PDEATHSIG, SIGKILL) != 0 ||
            getppid () != parent)
            _exit (127);
        sigset_t none;
        sigemptyset (&none);
        sigprocmask (SIG_SETMASK, &none, NULL);
        signal (SIGPIPE, SIG_DFL);
        signal (SIGTERM, SIG_DFL);
        if (dup2 (in[0], 0) < 0 || dup2 (out[1], 1) < 0 || dup2 (out[1], 2) < 0)
            _exit (127);
        execve (argv[0], argv, envp);
        _exit (127);
    }
    if (pid < 0) {
        snprintf (message, size, "cannot start: fork: %s", strerror (errno));
        goto done;
    }
    child->pid = pid;
    free (child->cmd);
    child->cmd = zsys_sprintf ("%s %s", interpreter, wrapper);
    child->in_fd = in[1];
    child->out_fd = out[0];
    in[1] = out[0] = -1;
    fcntl (child->in_fd, F_SETFL, O_NONBLOCK);
    fcntl (child->in_fd, F_SETPIPE_SZ, 1024 * 1024); //  the first line at once
    fcntl (child->out_fd, F_SETFL, O_NONBLOCK);
    rc = 0;
done:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close (in[i]);
        if (out[i] >= 0)
            close (out[i]);
    }
    free (interpreter);
    free (wrapper);
    s_free_strings (envp);
    return rc;
}

//  process_spawn / process_exit of `child` to the owner: `pid`, and
//  `cmd` or `exit_code` (StackStorm's payloads, with attune's ref)
static void
s_tell (sensor_python_t *self, s_child_t *child, pid_t pid, bool spawn, int exit_code)
{
    if (!self->on_process)
        return;
    const char *name =
        json_string_value (json_object_get (child->definition, "class_name"));
    json_t *payload = json_pack (
        "{s:s, s:s, s:I, s:i}", "id", name ? name : child->ref, "ref", child->ref,
        "timestamp", (json_int_t)(proto_now_usec () / 1000000), "pid", (int)pid);
    if (!payload)
        return;
    if (spawn)
        json_object_set_new (payload, "cmd", json_string (child->cmd ? child->cmd : ""));
    else
        json_object_set_new (payload, "exit_code", json_integer (exit_code));
    self->on_process (self->arg, spawn ? SENSOR_PYTHON_SPAWN : SENSOR_PYTHON_EXIT,
                      payload);
}

//  Start a child with its definition, its pack's config and its triggers.
static void
s_start (sensor_python_t *self, s_child_t *child)
{
    const char *pack = json_string_value (json_object_get (child->definition, "pack"));
    const char *pack_dir =
        json_string_value (json_object_get (child->definition, "pack_dir"));
    char message[1024] = "";
    json_t *config = NULL;
    json_decref (child->secrets);
    child->secrets = NULL;
    child->restart_us = 0;
    if (pack_config_load (pack_dir ? pack_dir : "", pack ? pack : "", NULL, &config,
                          &child->secrets, message, sizeof message) != 0 ||
        s_spawn (child, pack ? pack : "", message, sizeof message) != 0) {
        zsys_error ("sensor %s: %s", child->ref, message);
        json_decref (config);
        child->restart_us = proto_now_usec () + (int64_t)child->backoff_ms * 1000;
        return;
    }
    child->started_us = proto_now_usec ();
    zsys_info ("sensor %s: started (pid %d)", child->ref, (int)child->pid);
    s_tell (self, child, child->pid, true, 0);
    json_t *triggers = json_array ();
    const char *id;
    json_t *instance;
    json_object_foreach (child->triggers, id, instance)
        json_array_append (triggers, instance);
    s_send (child, json_pack ("{s:O, s:o, s:o}", "sensor", child->definition, "config",
                              config ? config : json_object (), "triggers", triggers));
}

//  SIGTERM now, SIGKILL after the grace
static void
s_stop (s_child_t *child)
{
    if (child->pid > 0 && !child->kill_us) {
        kill (child->pid, SIGTERM);
        child->kill_us = proto_now_usec () + S_GRACE_MS * 1000;
    }
    if (child->in_fd >= 0) {
        close (child->in_fd); //  EOF: the wrapper stops too
        child->in_fd = -1;
    }
}

//  ---------------------------------------------------------------------------
//  Trigger instances

//  The trigger instances of `sensor` given the rules: ref (id) -> instance.
static json_t *
s_instances (const json_t *sensor, const json_t *rules, const json_t *triggers)
{
    json_t *out = json_object ();
    size_t i;
    json_t *type;
    json_array_foreach (json_object_get (sensor, "trigger_types"), i, type)
    {
        const char *tref = json_string_value (type);
        const json_t *tdef = json_object_get (triggers, tref ? tref : "");
        if (!tref || !tdef)
            continue;
        const json_t *schema = json_object_get (tdef, "parameters_schema");
        bool parameters = json_object_size (schema) > 0;
        json_t *sets = json_array ();
        if (!parameters)
            json_array_append_new (sets, json_object ());
        const char *rref;
        json_t *rule;
        json_object_foreach ((json_t *)rules, rref, rule)
        {
            json_t *trigger = json_object_get (rule, "trigger");
            const char *rtype = json_string_value (json_object_get (trigger, "type"));
            if (parameters && !json_is_false (json_object_get (rule, "enabled")) &&
                rtype && streq (rtype, tref)) {
                json_t *given = json_object_get (trigger, "parameters");
                json_array_append (sets, given ? given : json_object ());
            }
        }
        json_t *set;
        size_t j;
        json_array_foreach (sets, j, set)
        {
            char *canonical = json_dumps (set, JSON_COMPACT | JSON_SORT_KEYS);
            char *key = zsys_sprintf ("%s %s", tref, canonical ? canonical : "{}");
            free (canonical);
            const char *dot = strchr (tref, '.');
            if (key && dot && !json_object_get (out, key))
                json_object_set_new (out, key,
                                     json_pack ("{s:s, s:s, s:s, s:s, s:s#, s:s, s:O}",
                                                "id", key, "ref", parameters ? key : tref,
                                                "uid", key, "type", tref, "pack", tref,
                                                (int)(dot - tref), "name", dot + 1,
                                                "parameters", set));
            zstr_free (&key);
        }
        json_decref (sets);
    }
    return out;
}

//  The child's trigger instances become `instances` (taken); a running
//  child is told the instances added and removed
static void
s_update_triggers (s_child_t *child, json_t *instances)
{
    const char *id;
    json_t *instance;
    void *tmp;
    json_object_foreach (instances, id, instance)
    {
        if (!json_object_get (child->triggers, id) && child->pid > 0 && !child->kill_us)
            s_send (child, json_pack ("{s:s, s:O}", "op", "add", "trigger", instance));
    }
    json_object_foreach_safe (child->triggers, tmp, id, instance)
    {
        if (!json_object_get (instances, id) && child->pid > 0 && !child->kill_us)
            s_send (child, json_pack ("{s:s, s:O}", "op", "remove", "trigger", instance));
    }
    json_decref (child->triggers);
    child->triggers = instances; //  taken
}

//  ---------------------------------------------------------------------------
//  Supervisor

sensor_python_t *
sensor_python_new (actor_loop_t *loop, sensor_python_process_fn *on_process, void *arg)
{
    sensor_python_t *self = (sensor_python_t *)zmalloc (sizeof (sensor_python_t));
    self->loop = loop;
    self->on_process = on_process;
    self->arg = arg;
    self->children = zhashx_new ();
    zhashx_set_destructor (self->children, s_child_destroy);
    return self;
}

void
sensor_python_destroy (sensor_python_t **self_p)
{
    sensor_python_t *self = *self_p;
    if (!self)
        return;
    s_child_t *child;
    for (child = (s_child_t *)zhashx_first (self->children); child;
         child = (s_child_t *)zhashx_next (self->children))
        s_stop (child);
    int64_t deadline = proto_now_usec () + S_GRACE_MS * 1000;
    for (child = (s_child_t *)zhashx_first (self->children); child;
         child = (s_child_t *)zhashx_next (self->children)) {
        while (child->pid > 0 && waitpid (child->pid, NULL, WNOHANG) == 0) {
            if (proto_now_usec () >= deadline)
                kill (child->pid, SIGKILL);
            zclock_sleep (10);
        }
        if (child->out_fd >= 0)
            s_read (child);
    }
    zhashx_destroy (&self->children);
    free (self);
    *self_p = NULL;
}

void
sensor_python_sync (sensor_python_t *self, const json_t *sensors, const json_t *rules,
                    const json_t *triggers)
{
    s_child_t *child;
    for (child = (s_child_t *)zhashx_first (self->children); child;
         child = (s_child_t *)zhashx_next (self->children))
        child->wanted = false;
    const char *ref;
    json_t *sensor;
    json_object_foreach ((json_t *)sensors, ref, sensor)
    {
        if (json_is_false (json_object_get (sensor, "enabled")))
            continue;
        child = (s_child_t *)zhashx_lookup (self->children, ref);
        if (!child) {
            child = (s_child_t *)zmalloc (sizeof (s_child_t));
            child->ref = strdup (ref);
            child->in_fd = child->out_fd = -1;
            child->triggers = json_object ();
            child->backoff_ms = S_BACKOFF_MIN_MS;
            zhashx_insert (self->children, ref, child);
        }
        child->wanted = true;
        if (child->definition && !json_equal (child->definition, sensor)) {
            zsys_info ("sensor %s: definition changed: restarting it", ref);
            s_stop (child);
            child->backoff_ms = S_BACKOFF_MIN_MS;
        }
        json_decref (child->definition);
        child->definition = json_incref (sensor);
        s_update_triggers (child, s_instances (sensor, rules, triggers));
        if (!child->pid && !child->restart_us)
            s_start (self, child);
    }
    for (child = (s_child_t *)zhashx_first (self->children); child;
         child = (s_child_t *)zhashx_next (self->children))
        if (!child->wanted && child->pid > 0 && !child->kill_us) {
            zsys_info ("sensor %s: disabled or removed: stopping it", child->ref);
            s_stop (child);
        }
}

//  The child ended: log how, and plan its restart when still wanted.
static void
s_ended (sensor_python_t *self, s_child_t *child, int status, int64_t now)
{
    char how[64];
    if (WIFEXITED (status))
        snprintf (how, sizeof how, "exited with code %d", WEXITSTATUS (status));
    else
        snprintf (how, sizeof how, "killed by signal %d", WTERMSIG (status));
    s_tell (self, child, child->pid, false,
            WIFEXITED (status) ? WEXITSTATUS (status) : -WTERMSIG (status));
    snprintf (child->last_exit, sizeof child->last_exit, "%s", how);
    if (child->out_fd >= 0)
        s_read (child);
    if (child->in_fd >= 0)
        close (child->in_fd);
    child->in_fd = -1;
    bool stopping = child->kill_us != 0;
    child->pid = 0;
    child->kill_us = 0;
    if (child->wanted && stopping) { //  changed: start the new one now
        zsys_info ("sensor %s: stopped (%s) to start again", child->ref, how);
        child->restart_us = now;
        return;
    }
    if (!child->wanted) {
        zsys_info ("sensor %s: stopped (%s)", child->ref, how);
        return;
    }
    if (now - child->started_us >= (int64_t)S_BACKOFF_MAX_MS * 1000)
        child->backoff_ms = S_BACKOFF_MIN_MS; //  it ran long enough: a fresh start
    zsys_warning ("sensor %s: %s; starting it again in %d ms", child->ref, how,
                  child->backoff_ms);
    child->restart_us = now + (int64_t)child->backoff_ms * 1000;
    child->backoff_ms = child->backoff_ms * 2 > S_BACKOFF_MAX_MS ? S_BACKOFF_MAX_MS
                                                                 : child->backoff_ms * 2;
}

void
sensor_python_tick (sensor_python_t *self)
{
    int64_t now = proto_now_usec ();
    zlist_t *gone = zlist_new ();
    actor_loop_fd_t fds[256];
    size_t count = 0;
    s_child_t *child;
    for (child = (s_child_t *)zhashx_first (self->children); child;
         child = (s_child_t *)zhashx_next (self->children)) {
        int status;
        if (child->pid > 0 && waitpid (child->pid, &status, WNOHANG) == child->pid)
            s_ended (self, child, status, now);
        if (child->pid > 0 && child->kill_us && now >= child->kill_us)
            kill (child->pid, SIGKILL);
        if (!child->pid && child->wanted && child->restart_us &&
            now >= child->restart_us) {
            child->restarts++;
            s_start (self, child);
        }
        if (!child->pid && !child->wanted)
            zlist_append (gone, child->ref);
        if (child->out_fd >= 0 && count < sizeof fds / sizeof fds[0])
            fds[count++] = (actor_loop_fd_t){child->out_fd, ZMQ_POLLIN, child};
    }
    for (char *ref = (char *)zlist_first (gone); ref; ref = (char *)zlist_next (gone))
        zhashx_delete (self->children, ref);
    zlist_destroy (&gone);
    actor_loop_set_fds (self->loop, 1, fds, count, s_on_output);
}

int
sensor_python_timeout (sensor_python_t *self)
{
    int64_t next = -1;
    for (s_child_t *child = (s_child_t *)zhashx_first (self->children); child;
         child = (s_child_t *)zhashx_next (self->children)) {
        int64_t at = child->restart_us ? child->restart_us : child->kill_us;
        if (child->pid > 0) //  reap promptly: no SIGCHLD in this thread
            at = proto_now_usec () + 200000;
        if (at && (next < 0 || at < next))
            next = at;
    }
    if (next < 0)
        return -1;
    int64_t wait = (next - proto_now_usec () + 999) / 1000;
    return wait < 0 ? 0 : (int)wait;
}

json_t *
sensor_python_status (sensor_python_t *self)
{
    json_t *list = json_array ();
    for (s_child_t *child = (s_child_t *)zhashx_first (self->children); child;
         child = (s_child_t *)zhashx_next (self->children))
        json_array_append_new (list, json_pack ("{s:s, s:i, s:b, s:i, s:i}", "ref",
                                                child->ref, "pid", (int)child->pid,
                                                "running", child->pid > 0, "restarts",
                                                (int)child->restarts, "triggers",
                                                (int)json_object_size (child->triggers)));
    return list;
}

json_t *
sensor_python_child (sensor_python_t *self, const char *ref)
{
    s_child_t *child = (s_child_t *)zhashx_lookup (self->children, ref);
    if (!child)
        return NULL;
    const char *state = child->kill_us      ? "stopping"
                        : child->pid > 0    ? "running"
                        : child->restart_us ? "waiting"
                                            : "stopped";
    json_t *status = json_pack ("{s:s, s:i, s:i, s:i}", "state", state, "pid",
                                (int)child->pid, "restarts", (int)child->restarts,
                                "triggers", (int)json_object_size (child->triggers));
    if (status && child->started_us)
        json_object_set_new (status, "started", json_integer (child->started_us));
    if (status && child->restart_us)
        json_object_set_new (status, "next_start", json_integer (child->restart_us));
    if (status && child->last_exit[0])
        json_object_set_new (status, "last_exit", json_string (child->last_exit));
    return status;
}
