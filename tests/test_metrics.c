/*  test_metrics: api.metrics, GET /metrics and `attune status --prometheus`
    (proto/PROTOCOL.md, "Metrics") against a live daemon.

    Every page is read by a strict checker of the text exposition format
    0.0.4 (below): HELP then TYPE once per family, before its samples,
    families contiguous, names attune_*, counters ending _total, label
    values escaped, every value a number, histograms with cumulative
    buckets ending at le="+Inf" equal to _count. A scrape before and after
    some executions (some failing, some from events) shows the counters
    moved by exactly what ran.
*/
#include "tests/testing_api.h"
#include "tests/testing_http.h"

#include <math.h>

static void
s_teardown (void)
{
    testing_daemon_stop_all ();
}

TestSuite (metrics, .fini = s_teardown, .timeout = 120);

//  ---------------------------------------------------------------------------
//  A strict reader of the exposition format: series -> value

typedef struct {
    zhashx_t *series;   //  "name{a=\"x\",b=\"y\"}" (labels sorted) -> double *
    zhashx_t *families; //  name -> type (strdup)
    char error[512];    //  the first violation, with its line number
} s_page_t;

static void
s_free (void **item)
{
    free (*item);
    *item = NULL;
}

static bool
s_name_ok (const char *name, size_t n, bool label)
{
    if (n == 0 || isdigit ((unsigned char)name[0]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum ((unsigned char)name[i]) || name[i] == '_' ||
              (!label && name[i] == ':')))
            return false;
    return true;
}

//  zlist_compare_fn: two labels (the items themselves)
static int
s_compare (void *a, void *b)
{
    return strcmp ((const char *)a, (const char *)b);
}

//  Parse `{a="x",...}` at *p into sorted "a=\"x\"" strings; the le value
//  into `le` (when present). False on a syntax error.
static bool
s_labels (const char **p, zlist_t *labels, char *le, size_t le_size)
{
    if (**p != '{')
        return true;
    (*p)++;
    while (**p != '}') {
        const char *start = *p;
        while (**p && **p != '=')
            (*p)++;
        if (**p != '=' || !s_name_ok (start, (size_t)(*p - start), true) ||
            (*p)[1] != '"')
            return false;
        size_t name_size = (size_t)(*p - start);
        *p += 2;
        char value[1024];
        size_t n = 0;
        while (**p && **p != '"' && n + 1 < sizeof value) {
            char c = **p;
            if (c == '\n')
                return false;
            if (c == '\\') {
                char next = (*p)[1];
                if (next != '\\' && next != '"' && next != 'n')
                    return false; //  only these three escapes exist
                c = next == 'n' ? '\n' : next;
                (*p)++;
            }
            value[n++] = c;
            (*p)++;
        }
        value[n] = 0;
        if (**p != '"')
            return false;
        (*p)++;
        if (name_size == 2 && strncmp (start, "le", 2) == 0)
            snprintf (le, le_size, "%.*s", (int)(le_size - 1), value);
        else {
            char *label = zsys_sprintf ("%.*s=\"%s\"", (int)name_size, start, value);
            zlist_append (labels, label); //  copied (autofree)
            zstr_free (&label);
        }
        if (**p == ',')
            (*p)++;
        else if (**p != '}')
            return false;
    }
    (*p)++;
    return true;
}

//  A sample value: a float, or +Inf, -Inf, NaN
static bool
s_value (const char *text, double *value)
{
    if (streq (text, "+Inf") || streq (text, "-Inf") || streq (text, "NaN")) {
        *value = streq (text, "NaN") ? NAN : text[0] == '+' ? INFINITY : -INFINITY;
        return true;
    }
    char *end;
    *value = strtod (text, &end);
    return end != text && *end == 0;
}

typedef struct {
    char family[256], type[16];
    bool help, typed;
    //  The histogram series being read: its labels (without le), last
    //  cumulative bucket, whether +Inf was seen
    char hist_labels[1024];
    double last_bucket, inf;
    bool has_inf;
} s_state_t;

//  s_note names the first violation; s_fail also returns
#define s_note(page, line, ...)                                                          \
    do {                                                                                 \
        if (!(page)->error[0]) {                                                         \
            int s_n = snprintf ((page)->error, sizeof (page)->error, "line %d: ", line); \
            snprintf ((page)->error + s_n, sizeof (page)->error - (size_t)s_n,           \
                      __VA_ARGS__);                                                      \
        }                                                                                \
    } while (0)
#define s_fail(page, line, ...)                                                          \
    do {                                                                                 \
        s_note (page, line, __VA_ARGS__);                                                \
        return;                                                                          \
    } while (0)

static void
s_comment (s_page_t *page, s_state_t *state, const char *line, int number)
{
    char kind[8], name[256];
    int used = 0;
    if (sscanf (line, "# %7s %255s %n", kind, name, &used) < 2 ||
        (!streq (kind, "HELP") && !streq (kind, "TYPE")))
        return; //  another comment: allowed
    if (strncmp (name, "attune_", 7) != 0)
        s_fail (page, number, "%s: not attune_", name);
    if (streq (kind, "HELP")) {
        if (zhashx_lookup (page->families, name))
            s_fail (page, number, "%s: a second family of that name", name);
        memset (state, 0, sizeof *state);
        snprintf (state->family, sizeof state->family, "%s", name);
        state->help = true;
        for (const char *p = line + used; *p; p++)
            if (*p == '\\' && p[1] != '\\' && p[1] != 'n')
                s_fail (page, number, "HELP: bad escape");
            else if (*p == '\\')
                p++; //  the escaped character
        return;
    }
    if (!state->help || !streq (name, state->family) || state->typed)
        s_fail (page, number, "TYPE %s: not right after its HELP", name);
    const char *type = line + used;
    if (!streq (type, "counter") && !streq (type, "gauge") && !streq (type, "histogram"))
        s_fail (page, number, "TYPE %s: %s", name, type);
    size_t n = strlen (name);
    if (streq (type, "counter") != (n > 6 && streq (name + n - 6, "_total")))
        s_fail (page, number, "%s: a counter's name ends in _total, only a counter's",
                name);
    snprintf (state->type, sizeof state->type, "%s", type);
    state->typed = true;
    zhashx_insert (page->families, name, strdup (type));
}

//  The histogram series of this line: buckets cumulative, +Inf = _count
static void
s_histogram (s_page_t *page, s_state_t *state, const char *suffix, const char *labels,
             const char *le, double value, int number)
{
    if (streq (suffix, "_bucket")) {
        if (!*le)
            s_fail (page, number, "a bucket without le");
        if (!streq (labels, state->hist_labels)) {
            snprintf (state->hist_labels, sizeof state->hist_labels, "%s", labels);
            state->last_bucket = 0;
            state->has_inf = false;
        }
        if (value < state->last_bucket)
            s_fail (page, number, "buckets not cumulative (%g after %g)", value,
                    state->last_bucket);
        state->last_bucket = value;
        if (streq (le, "+Inf")) {
            state->has_inf = true;
            state->inf = value;
        }
    } else if (streq (suffix, "_count")) {
        if (!state->has_inf || !streq (labels, state->hist_labels) || state->inf != value)
            s_fail (page, number, "_count %g is not the +Inf bucket", value);
    } else if (!streq (suffix, "_sum"))
        s_fail (page, number, "a histogram's samples are _bucket, _sum, _count");
}

static void
s_sample (s_page_t *page, s_state_t *state, const char *line, int number)
{
    const char *p = line;
    while (*p && *p != '{' && *p != ' ')
        p++;
    size_t n = (size_t)(p - line);
    if (!s_name_ok (line, n, false))
        s_fail (page, number, "bad metric name");
    if (!state->typed)
        s_fail (page, number, "a sample before its family's HELP and TYPE");
    size_t family = strlen (state->family);
    const char *suffix = line + family;
    bool histogram = streq (state->type, "histogram");
    if (n < family || strncmp (line, state->family, family) != 0 ||
        (!histogram && n != family) || (histogram && n == family))
        s_fail (page, number, "%.*s is not of family %s", (int)n, line, state->family);
    zlist_t *labels = zlist_new ();
    zlist_autofree (labels);
    char le[64] = "";
    bool ok = s_labels (&p, labels, le, sizeof le);
    char *key = NULL;
    if (ok && *p == ' ') {
        zlist_sort (labels, s_compare);
        char joined[1024] = "";
        for (char *label = (char *)zlist_first (labels); label;
             label = (char *)zlist_next (labels))
            snprintf (joined + strlen (joined), sizeof joined - strlen (joined), "%s%s",
                      joined[0] ? "," : "", label);
        double value;
        ok = s_value (p + 1, &value);
        if (ok && histogram) {
            char suffix_text[16];
            snprintf (suffix_text, sizeof suffix_text, "%.*s", (int)(n - family), suffix);
            s_histogram (page, state, suffix_text, joined, le, value, number);
        }
        key = le[0] ? zsys_sprintf ("%.*s{%s%sle=\"%s\"}", (int)n, line, joined,
                                    joined[0] ? "," : "", le)
                    : zsys_sprintf ("%.*s{%s}", (int)n, line, joined);
        bool twice = ok && zhashx_lookup (page->series, key);
        if (twice)
            s_note (page, number, "%s twice", key);
        double *stored = (double *)malloc (sizeof (double));
        *stored = value;
        if (ok && !twice)
            zhashx_insert (page->series, key, stored);
        else
            free (stored);
    } else
        ok = false;
    zstr_free (&key);
    zlist_destroy (&labels);
    if (!ok)
        s_fail (page, number, "not a sample: %.200s", line);
}

//  Read a whole page; page->error names the first violation, if any.
static s_page_t *
s_page_parse (const char *text)
{
    s_page_t *page = (s_page_t *)zmalloc (sizeof (s_page_t));
    page->series = zhashx_new ();
    page->families = zhashx_new ();
    zhashx_set_destructor (page->series, s_free);
    zhashx_set_destructor (page->families, s_free);
    s_state_t state = {0};
    char *copy = strdup (text);
    int number = 0;
    for (char *line = copy, *next; line && *line; line = next) {
        next = strchr (line, '\n');
        if (next)
            *next++ = 0;
        number++;
        if (!*line)
            continue;
        if (line[0] == '#')
            s_comment (page, &state, line, number);
        else
            s_sample (page, &state, line, number);
    }
    free (copy);
    return page;
}

//  A page that must be valid (asserts, naming the first violation).
static s_page_t *
s_page_read (const char *text)
{
    cr_assert (strlen (text) > 0 && text[strlen (text) - 1] == '\n',
               "the page ends with a newline");
    s_page_t *page = s_page_parse (text);
    cr_assert (!page->error[0], "not exposition format 0.0.4: %s\n%.2000s", page->error,
               text);
    cr_assert_gt (zhashx_size (page->families), 10);
    return page;
}

static void
s_page_destroy (s_page_t **page_p)
{
    zhashx_destroy (&(*page_p)->series);
    zhashx_destroy (&(*page_p)->families);
    free (*page_p);
    *page_p = NULL;
}

//  A series' value (labels in name order), or -1 when absent
static double
s_get (s_page_t *page, const char *series)
{
    double *value = (double *)zhashx_lookup (page->series, series);
    return value ? *value : -1;
}

//  How much a series moved between two pages (absent: 0)
static double
s_moved (s_page_t *before, s_page_t *after, const char *series)
{
    double a = s_get (before, series), b = s_get (after, series);
    cr_assert_geq (b, 0, "%s is not on the page", series);
    return b - (a < 0 ? 0 : a);
}

//  ---------------------------------------------------------------------------
//  The daemon and its pages

static zsock_t *s_api;

static void
s_start (void)
{
    testing_http_start (NULL);
    s_api = testing_api_client (&s_http.daemon);
    //  Nothing runs but what the tests start: the core timer's rule off
    json_decref (testing_api_ok (s_api, "api.rule.disable",
                                 json_pack ("{s:s}", "ref", "core.timer_echo_10s")));
}

static s_page_t *
s_scrape (void)
{
    json_t *result = testing_api_ok (s_api, "api.metrics", NULL);
    const char *text = json_string_value (json_object_get (result, "text"));
    cr_assert_not_null (text);
    s_page_t *page = s_page_read (text);
    json_decref (result);
    return page;
}

//  Executions not ended, summed over the statuses
static double
s_active (s_page_t *page)
{
    static const char *statuses[] = {"requested", "delayed", "scheduled",
                                     "running",   "pending", "canceling",
                                     "pausing",   "paused",  "resuming"};
    double sum = 0;
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        char series[128];
        snprintf (series, sizeof series, "attune_executions_active{status=\"%s\"}",
                  statuses[i]);
        double value = s_get (page, series);
        cr_assert_geq (value, 0, "%s is not on the page", series);
        sum += value;
    }
    return sum;
}

//  A page once nothing runs (bounded)
static s_page_t *
s_scrape_idle (void)
{
    int64_t deadline = zclock_mono () + 20000;
    while (true) {
        s_page_t *page = s_scrape ();
        if (s_active (page) == 0)
            return page;
        cr_assert_lt (zclock_mono (), deadline, "executions still active");
        s_page_destroy (&page);
        zclock_sleep (50);
    }
}

static char *
s_run (const char *action, json_t *parameters)
{
    json_t *result = testing_api_ok (
        s_api, "api.execution.run",
        json_pack ("{s:s, s:o}", "action", action, "parameters", parameters));
    char *id = strdup (json_string_value (json_object_get (result, "execution")));
    json_decref (result);
    return id;
}

static void
s_wait_ended (const char *id, const char *status)
{
    json_decref (testing_api_wait_status (s_api, id, status, 20000));
}

//  ---------------------------------------------------------------------------

//  The families beside the executions': actors up, stores, policies,
//  workers, links
static void
s_check_others (s_page_t *before, s_page_t *after)
{
    cr_assert_eq (s_get (after, "attune_up{actor=\"registry\"}"), 1);
    cr_assert_eq (s_get (after, "attune_up{actor=\"rules\"}"), 1);
    cr_assert_eq (s_get (after, "attune_up{actor=\"executor\"}"), 1);
    cr_assert_eq (s_get (after, "attune_up{actor=\"datastore\"}"), 1);
    cr_assert_gt (s_get (after, "attune_store_file_size_bytes{store=\"rules\"}"), 0);
    cr_assert_gt (s_get (after, "attune_store_used_bytes{store=\"executor\"}"), 0);
    //  The policy test.one of test.step: its queue, empty now
    cr_assert_eq (s_get (after, "attune_policy_queued_executions{action=\"test.step\","
                                "policy=\"test.one\"}"),
                  0);
    cr_assert_geq (s_get (after, "attune_workers{}"), 1);
    cr_assert_gt (s_get (after, "attune_workers_free_slots{}"), 0);
    cr_assert_geq (s_get (after, "attune_link_resends_total{actor=\"rules\","
                                 "peer=\"executor\"}"),
                   0);
    cr_assert_eq (s_get (after, "attune_link_peer_up{actor=\"api\",peer=\"rules\"}"), 1);
    //  rules -> executor carried the two enforcements
    cr_assert_geq (s_moved (before, after,
                            "attune_link_commands_sent_total{actor=\"rules\","
                            "peer=\"executor\"}"),
                   2);
}

Test (metrics, counters_move_by_what_ran)
{
    s_start ();
    s_page_t *before = s_scrape_idle ();
    char *ok[3], *bad[2];
    for (int i = 0; i < 3; i++)
        ok[i] = s_run ("core.local", json_pack ("{s:s}", "cmd", "true"));
    for (int i = 0; i < 2; i++)
        bad[i] = s_run ("core.local", json_pack ("{s:s}", "cmd", "exit 3"));
    for (int i = 0; i < 2; i++) //  two events: two test.step executions by rule
        json_decref (testing_api_ok (
            s_api, "api.event.publish",
            json_pack ("{s:s, s:{s:i}}", "trigger", "test.hook", "payload", "n", i)));
    for (int i = 0; i < 3; i++)
        s_wait_ended (ok[i], "completed");
    for (int i = 0; i < 2; i++)
        s_wait_ended (bad[i], "failed");
    s_page_t *after = s_scrape_idle ();
    //  Wait for the event's executions too: 7 created in all
    int64_t deadline = zclock_mono () + 20000;
    while (s_moved (before, after,
                    "attune_executions_ended_total{action=\"test.step\",status="
                    "\"completed\"}") < 2) {
        cr_assert_lt (zclock_mono (), deadline, "the events' executions did not end");
        s_page_destroy (&after);
        zclock_sleep (50);
        after = s_scrape_idle ();
    }
    cr_assert_eq (s_moved (before, after,
                           "attune_executions_ended_total{action=\"core.local\","
                           "status=\"completed\"}"),
                  3);
    cr_assert_eq (s_moved (before, after,
                           "attune_executions_ended_total{action=\"core.local\","
                           "status=\"failed\"}"),
                  2);
    cr_assert_eq (s_moved (before, after,
                           "attune_executions_ended_total{action=\"test.step\","
                           "status=\"completed\"}"),
                  2);
    cr_assert_eq (s_moved (before, after, "attune_executions_created_total{}"), 7);
    //  Every execution ran: one observation per stage each; the event stage
    //  for the two from events only
    cr_assert_eq (
        s_moved (before, after, "attune_execution_requested_to_running_seconds_count{}"),
        7);
    cr_assert_eq (
        s_moved (before, after, "attune_execution_running_to_ended_seconds_count{}"), 7);
    cr_assert_eq (
        s_moved (before, after, "attune_execution_event_to_requested_seconds_count{}"),
        2);
    cr_assert_eq (s_get (after, "attune_execution_running_to_ended_seconds_count{}"),
                  s_get (after, "attune_execution_running_to_ended_seconds_bucket{le="
                                "\"+Inf\"}"));
    //  The executor's store committed them
    cr_assert_gt (
        s_moved (before, after,
                 "attune_store_commit_duration_seconds_count{store=\"executor\"}"),
        0);
    s_check_others (before, after);
    for (int i = 0; i < 3; i++)
        free (ok[i]);
    for (int i = 0; i < 2; i++)
        free (bad[i]);
    s_page_destroy (&before);
    s_page_destroy (&after);
}

//  GET /metrics: no key from loopback, a key's role, a bad key refused;
//  the CLI prints the same text
Test (metrics, http_and_cli)
{
    s_start ();
    testing_http_python (
        "metrics",
        "for key in (None, 'viewer', 'admin'):\n"
        "    s, h, text = req('GET', '/metrics', key=key, prefix='')\n"
        "    check(s == 200, 'GET /metrics (%s): %s %s' % (key, s, text))\n"
        "    check(h.get('Content-Type', '').startswith('text/plain; version=0.0.4'), "
        "'content type: %s' % h)\n"
        "    check('# TYPE attune_executions_ended_total counter' in text, text[:500])\n"
        "    check('attune_up{actor=\"executor\"} 1' in text, text[:500])\n"
        "s, h, j = req('GET', '/metrics', key='off', prefix='')\n"
        "check(s == 401, 'a disabled key: %s' % s)\n"
        "c = http.client.HTTPConnection('127.0.0.1', PORT, timeout=20)\n"
        "c.request('GET', '/metrics', headers={'St2-Api-Key': 'atk_nope'})\n"
        "r = c.getresponse(); r.read()\n"
        "check(r.status == 401, 'an unknown key: %s' % r.status)\n"
        "s, h, doc = req('GET', '/openapi.json')\n"
        "check('/metrics' in doc['paths'], 'not in the OpenAPI document')\n",
        30000);
    const char *argv[] = {ATTUNE_HELPER_DIR "/attune",
                          "--api",
                          s_http.daemon.api,
                          "status",
                          "--prometheus",
                          NULL};
    char *out = NULL, *err = NULL;
    int rc = testing_run (argv, NULL, &out, &err, 20000);
    cr_assert_eq (rc, 0, "attune status --prometheus: %s", err);
    s_page_t *page = s_page_read (out);
    cr_assert_eq (s_get (page, "attune_up{actor=\"rules\"}"), 1);
    s_page_destroy (&page);
    free (out);
    free (err);
    //  Without --prometheus: the table, as before
    const char *plain[] = {ATTUNE_HELPER_DIR "/attune", "--api", s_http.daemon.api,
                           "status", NULL};
    rc = testing_run (plain, NULL, &out, &err, 20000);
    cr_assert_eq (rc, 0, "attune status: %s", err);
    cr_assert_null (strstr (out, "# TYPE"));
    free (out);
    free (err);
}

//  The checker itself refuses what is not the format (a test that cannot
//  fail is a defect)
Test (metrics, checker_refuses_bad_pages)
{
    static const char *bad[] = {
        "attune_x 1\n",                                             //  no HELP
        "# HELP attune_x x\n# TYPE attune_x counter\nattune_x 1\n", //  no _total
        "# HELP attune_x_total x\n# TYPE attune_x_total counter\n"
        "attune_x_total{a=\"b\\q\"} 1\n", //  bad escape
        "# HELP attune_h x\n# TYPE attune_h histogram\nattune_h_bucket{le=\"1\"} 2\n"
        "attune_h_bucket{le=\"+Inf\"} 1\nattune_h_sum 0\nattune_h_count 1\n", //  not cumulative
        "# HELP attune_h x\n# TYPE attune_h histogram\nattune_h_bucket{le=\"+Inf\"} 1\n"
        "attune_h_sum 0\nattune_h_count 2\n",                       //  _count is not +Inf
        "# HELP attune_g x\n# TYPE attune_g gauge\nattune_g one\n", //  not a number
        "# HELP attune_g x\n# TYPE attune_g gauge\nattune_g 1\n"
        "# HELP attune_g x\n# TYPE attune_g gauge\n", //  twice
        "# HELP attune_g x\n# TYPE attune_g gauge\nattune_g{a=\"1\"} 1\n"
        "attune_g{a=\"1\"} 2\n", //  a series twice
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s_page_t *page = s_page_parse (bad[i]);
        cr_assert (page->error[0], "the checker took page %zu:\n%s", i, bad[i]);
        s_page_destroy (&page);
    }
    s_page_t *good = s_page_parse (
        "# HELP attune_h_seconds x \\\\ y\n# TYPE attune_h_seconds histogram\n"
        "attune_h_seconds_bucket{a=\"q\\\"\\n\",le=\"0.5\"} 1\n"
        "attune_h_seconds_bucket{a=\"q\\\"\\n\",le=\"+Inf\"} 2\n"
        "attune_h_seconds_sum{a=\"q\\\"\\n\"} 0.7\n"
        "attune_h_seconds_count{a=\"q\\\"\\n\"} 2\n");
    cr_assert (!good->error[0], "%s", good->error);
    s_page_destroy (&good);
}
