/*  attuned_log: the daemon's log lines, formatted in one place
    (attuned_log.h).

    zsys writes each line (fprintf, then fflush) to the stream made here
    while holding the stream's lock, so s_write is never run by two actor
    threads at once: it keeps what it was given until a newline and
    handles whole lines.
*/
#include "tools/attuned_log.h"

#include <czmq.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

typedef enum { S_DEBUG, S_INFO, S_NOTICE, S_WARNING, S_ERROR, S_LEVELS } s_level_t;
static const char *s_level_names[S_LEVELS] = {"debug", "info", "notice", "warning",
                                              "error"};
static const char s_level_letters[S_LEVELS] = {'D', 'I', 'N', 'W', 'E'};

//  The actors a line may name, in the order of their levels
static const char *s_actors[] = {"attuned", "registry", "rules",     "executor",
                                 "worker",  "sensor",   "datastore", "api",
                                 "http",    "workflow", "store",     "pack"};
#define S_ACTORS (sizeof s_actors / sizeof s_actors[0])

static struct {
    bool json;
    s_level_t level[S_ACTORS];
    char pending[4096]; //  a line not ended yet
    size_t length;
} s_log;

static int
s_level_of (const char *name, size_t length)
{
    for (int l = 0; l < S_LEVELS; l++)
        if (strlen (s_level_names[l]) == length &&
            !strncmp (name, s_level_names[l], length))
            return l;
    return -1;
}

static int
s_actor_index (const char *name, size_t length)
{
    for (size_t a = 0; a < S_ACTORS; a++)
        if (strlen (s_actors[a]) == length && !strncmp (name, s_actors[a], length))
            return (int)a;
    return -1;
}

//  The actor a message is from (attuned_log.h).
static int
s_actor_of (const char *message)
{
    const char *word = message;
    if (*word == '/') {
        //  A store's path: its last part, up to the colon
        const char *colon = strstr (word, ": ");
        const char *slash = colon ? word + (colon - word) : NULL;
        while (slash && slash > word && slash[-1] != '/')
            slash--;
        if (slash) {
            int a = s_actor_index (slash, (size_t)(colon - slash));
            return a >= 0 ? a : 0;
        }
        return 0;
    }
    size_t length = strcspn (word, ": @");
    if (length == 9 && !strncmp (word, "execution", 9))
        return s_actor_index ("executor", 8);
    int a = s_actor_index (word, length);
    return a >= 0 ? a : 0;
}

//  ISO 8601 UTC with milliseconds
static void
s_timestamp (char *out, size_t size)
{
    struct timeval now;
    gettimeofday (&now, NULL);
    struct tm tm;
    gmtime_r (&now.tv_sec, &tm);
    char date[32];
    strftime (date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf (out, size, "%s.%03dZ", date, (int)(now.tv_usec / 1000));
}

//  One line as zsys formatted it: "L: (ident) yy-mm-dd hh:mm:ss message"
static void
s_line (const char *line)
{
    int level = S_INFO;
    for (int l = 0; l < S_LEVELS; l++)
        if (line[0] == s_level_letters[l] && line[1] == ':')
            level = l;
    const char *message = line;
    if (line[0] && line[1] == ':' && line[2] == ' ') {
        message = line + 3;
        if (*message == '(') {
            const char *end = strstr (message, ") ");
            message = end ? end + 2 : message;
        }
        //  "yy-mm-dd hh:mm:ss "
        if (strlen (message) >= 18 && message[2] == '-' && message[8] == ' ' &&
            message[11] == ':' && message[17] == ' ')
            message += 18;
    }
    int actor = s_actor_of (message);
    if (level < (int)s_log.level[actor])
        return;
    if (!s_log.json) {
        fprintf (stdout, "%s\n", line);
        fflush (stdout);
        return;
    }
    char ts[48];
    s_timestamp (ts, sizeof ts);
    json_t *object =
        json_pack ("{s:s, s:s, s:s, s:s}", "ts", ts, "level", s_level_names[level],
                   "actor", s_actors[actor], "message", message);
    char *text = object ? json_dumps (object, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref (object);
    if (text) {
        fprintf (stdout, "%s\n", text);
        fflush (stdout);
    }
    free (text);
}

static ssize_t
s_write (void *cookie, const char *buffer, size_t size)
{
    (void)cookie;
    for (size_t i = 0; i < size; i++) {
        if (buffer[i] == '\n') {
            s_log.pending[s_log.length] = 0;
            s_line (s_log.pending);
            s_log.length = 0;
        } else if (s_log.length < sizeof s_log.pending - 1)
            s_log.pending[s_log.length++] = buffer[i];
    }
    return (ssize_t)size;
}

//  "info,executor=debug": into s_log.level. 0 or -1 with `message` set.
static int
s_parse_levels (const char *levels, char *message, size_t size)
{
    for (const char *p = levels; p && *p;) {
        size_t n = strcspn (p, ",");
        const char *equals = memchr (p, '=', n);
        const char *name = equals ? equals + 1 : p;
        size_t name_length = equals ? n - (size_t)(equals - p) - 1 : n;
        int level = s_level_of (name, name_length);
        int actor = equals ? s_actor_index (p, (size_t)(equals - p)) : -1;
        if (level < 0 || (equals && actor < 0)) {
            snprintf (message, size,
                      "--log-level: '%.*s': expected LEVEL or ACTOR=LEVEL, LEVEL one "
                      "of debug, info, notice, warning, error, ACTOR one of registry, "
                      "rules, executor, worker, sensor, datastore, api, http, workflow, "
                      "store, pack, attuned",
                      (int)n, p);
            return -1;
        }
        if (equals)
            s_log.level[actor] = (s_level_t)level;
        else
            for (size_t a = 0; a < S_ACTORS; a++)
                s_log.level[a] = (s_level_t)level;
        p += n + (p[n] == ',');
    }
    return 0;
}

int
attuned_log_setup (const char *format, const char *levels, char *message, size_t size)
{
    for (size_t a = 0; a < S_ACTORS; a++)
        s_log.level[a] = S_INFO;
    if (format && !streq (format, "text") && !streq (format, "json")) {
        snprintf (message, size, "--log-format: '%s': expected text or json", format);
        return -1;
    }
    //  Per-actor levels first, then the bare ones would override: apply the
    //  bare levels, then the actors'
    if (levels) {
        char *copy = strdup (levels), *bare = (char *)calloc (1, strlen (levels) + 2),
             *named = (char *)calloc (1, strlen (levels) + 2);
        for (char *item = strtok (copy, ","); item; item = strtok (NULL, ","))
            strcat (strcat (strchr (item, '=') ? named : bare, item), ",");
        int rc =
            s_parse_levels (bare, message, size) ?: s_parse_levels (named, message, size);
        free (copy);
        free (bare);
        free (named);
        if (rc)
            return -1;
    }
    s_log.json = format && streq (format, "json");
    if (!s_log.json && !levels)
        return 0; //  zsys's own stream, as always
    FILE *stream = fopencookie (NULL, "w", (cookie_io_functions_t){.write = s_write});
    if (!stream) {
        snprintf (message, size, "cannot make the log stream: %s", strerror (errno));
        return -1;
    }
    zsys_set_logstream (stream);
    return 0;
}
