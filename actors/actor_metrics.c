/*  actor_metrics: metric families as data, merged and rendered as
    Prometheus text (actor_metrics.h).
*/
#include "actors/actor_metrics.h"

#include <czmq.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>

const double actor_latency_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                       0.1,   0.25,   0.5,   1,    2.5,   5,
                                       10,    30,     60,    300,  1800,  3600};
const size_t actor_latency_nbounds =
    sizeof actor_latency_bounds / sizeof actor_latency_bounds[0];

void
actor_histogram_init (actor_histogram_t *self, const double *bounds, size_t nbounds)
{
    assert (self && bounds && nbounds <= ACTOR_HISTOGRAM_MAX);
    memset (self, 0, sizeof *self);
    self->bounds = bounds;
    self->nbounds = nbounds;
}

void
actor_histogram_observe (actor_histogram_t *self, double value)
{
    size_t bucket = 0;
    while (bucket < self->nbounds && value > self->bounds[bucket])
        bucket++;
    self->buckets[bucket]++;
    self->count++;
    self->sum += value;
}

//  ---------------------------------------------------------------------------
//  Building

//  The family `name` of `families`, made with `type` and `help` when new.
static json_t *
s_family (json_t *families, const char *name, const char *type, const char *help)
{
    json_t *family = json_object_get (families, name);
    if (!family) {
        family = json_pack ("{s:s, s:s, s:[]}", "type", type, "help", help, "samples");
        json_object_set_new (families, name, family);
    }
    return family;
}

//  Labels from name, value ... NULL pairs (a NULL value leaves the label out)
static json_t *
s_labels (va_list args)
{
    json_t *labels = json_object ();
    for (const char *key = va_arg (args, const char *); key;
         key = va_arg (args, const char *)) {
        const char *value = va_arg (args, const char *);
        if (value)
            json_object_set_new (labels, key, json_string (value));
    }
    return labels;
}

//  A value as JSON: an integer when it is one (counters stay exact)
static json_t *
s_number (double value)
{
    if (isfinite (value) && value == floor (value) && fabs (value) < 9e15)
        return json_integer ((json_int_t)value);
    return json_real (value);
}

void
actor_metrics_declare (json_t *families, const char *name, const char *type,
                       const char *help)
{
    s_family (families, name, type, help);
}

void
actor_metrics_add (json_t *families, const char *name, const char *type, const char *help,
                   double value, ...)
{
    json_t *family = s_family (families, name, type, help);
    va_list args;
    va_start (args, value);
    json_t *labels = s_labels (args);
    va_end (args);
    json_array_append_new (
        json_object_get (family, "samples"),
        json_pack ("{s:o, s:o}", "labels", labels, "value", s_number (value)));
}

void
actor_metrics_histogram (json_t *families, const char *name, const char *help,
                         const actor_histogram_t *histogram, ...)
{
    json_t *family = s_family (families, name, "histogram", help);
    if (!json_object_get (family, "bounds")) {
        json_t *bounds = json_array ();
        for (size_t i = 0; i < histogram->nbounds; i++)
            json_array_append_new (bounds, json_real (histogram->bounds[i]));
        json_object_set_new (family, "bounds", bounds);
    }
    va_list args;
    va_start (args, histogram);
    json_t *labels = s_labels (args);
    va_end (args);
    json_t *buckets = json_array ();
    for (size_t i = 0; i <= histogram->nbounds; i++)
        json_array_append_new (buckets, json_integer ((json_int_t)histogram->buckets[i]));
    json_array_append_new (json_object_get (family, "samples"),
                           json_pack ("{s:o, s:o, s:f, s:I}", "labels", labels, "buckets",
                                      buckets, "sum", histogram->sum, "count",
                                      (json_int_t)histogram->count));
}

void
actor_metrics_store (json_t *families, store_t *store, const char *name)
{
    store_stats_t stats;
    store_stats (store, &stats);
    actor_histogram_t commits;
    actor_histogram_init (&commits, store_commit_bounds, STORE_COMMIT_BUCKETS);
    memcpy (commits.buckets, stats.commit_buckets, sizeof stats.commit_buckets);
    commits.count = stats.commits;
    commits.sum = stats.commit_seconds;
    actor_metrics_histogram (
        families, "attune_store_commit_duration_seconds",
        "Time in LMDB's commit of a write transaction (its page writes and fdatasync); "
        "_count is the number of commits.",
        &commits, "store", name, NULL);
    actor_metrics_add (families, "attune_store_map_growths_total", "counter",
                       "Times the store's map grew (doubled).", (double)stats.growths,
                       "store", name, NULL);
    static const struct {
        const char *name, *help;
        size_t offset;
    } gauges[] = {
        {"attune_store_map_size_bytes", "The store's LMDB map size.",
         offsetof (store_stats_t, map_bytes)},
        {"attune_store_map_max_bytes", "How far the store's map may grow.",
         offsetof (store_stats_t, map_max_bytes)},
        {"attune_store_used_bytes", "Pages in use in the store's map, in bytes.",
         offsetof (store_stats_t, used_bytes)},
        {"attune_store_file_size_bytes", "The size of the store's data.mdb.",
         offsetof (store_stats_t, file_bytes)},
        {"attune_store_entries", "Records in every table of the store.",
         offsetof (store_stats_t, entries)},
    };
    for (size_t i = 0; i < sizeof gauges / sizeof gauges[0]; i++)
        actor_metrics_add (
            families, gauges[i].name, "gauge", gauges[i].help,
            (double)*(const uint64_t *)((const char *)&stats + gauges[i].offset), "store",
            name, NULL);
    actor_metrics_add (families, "attune_store_readers", "gauge",
                       "LMDB reader slots in use.", (double)stats.readers, "store", name,
                       NULL);
    actor_metrics_add (families, "attune_store_io_failing", "gauge",
                       "1 while the store's commits fail on a full or failing disk.",
                       stats.io_failing ? 1 : 0, "store", name, NULL);
}

void
actor_metrics_link (json_t *families, const char *actor, const char *peer,
                    bus_link_t *link)
{
    actor_metrics_add (families, "attune_link_commands_sent_total", "counter",
                       "Commands sent over a reliable link (first sends).",
                       (double)bus_link_sent (link), "actor", actor, "peer", peer, NULL);
    actor_metrics_add (families, "attune_link_resends_total", "counter",
                       "Commands sent again over a reliable link (not acked in time).",
                       (double)bus_link_resent (link), "actor", actor, "peer", peer,
                       NULL);
    actor_metrics_add (
        families, "attune_link_heartbeats_missed_total", "counter",
        "Heartbeat intervals the receiver of a link was silent for (past the first of "
        "each silence, at most liveness per silence).",
        (double)bus_link_heartbeats_missed (link), "actor", actor, "peer", peer, NULL);
    actor_metrics_add (families, "attune_link_unacked_commands", "gauge",
                       "Commands sent over a link and not acked yet.",
                       (double)bus_link_unacked (link), "actor", actor, "peer", peer,
                       NULL);
    actor_metrics_add (families, "attune_link_peer_up", "gauge",
                       "1 while the receiver of a link is heard from, else 0.",
                       bus_link_peer_alive (link) ? 1 : 0, "actor", actor, "peer", peer,
                       NULL);
}

void
actor_metrics_inbox (json_t *families, const char *actor, bus_inbox_t *inbox)
{
    actor_metrics_add (families, "attune_inbox_commands_total", "counter",
                       "Commands an actor's inbox delivered to its handler.",
                       (double)bus_inbox_delivered (inbox), "actor", actor, NULL);
    actor_metrics_add (families, "attune_inbox_duplicates_total", "counter",
                       "Commands an actor's inbox dropped as duplicates (resends).",
                       (double)bus_inbox_duplicates (inbox), "actor", actor, NULL);
    actor_metrics_add (families, "attune_inbox_heartbeats_missed_total", "counter",
                       "Heartbeat intervals the senders of an inbox were silent for "
                       "(past the first of each silence).",
                       (double)bus_inbox_heartbeats_missed (inbox), "actor", actor, NULL);
}

size_t
actor_metrics_merge (json_t *into, const json_t *from)
{
    size_t skipped = 0;
    const char *name;
    json_t *family;
    json_object_foreach ((json_t *)from, name, family)
    {
        json_t *known = json_object_get (into, name);
        if (!known) {
            json_object_set_new (into, name, json_deep_copy (family));
            continue;
        }
        json_t *samples = json_object_get (known, "samples");
        const char *type = json_string_value (json_object_get (known, "type"));
        const char *other = json_string_value (json_object_get (family, "type"));
        if (!type || !other || !streq (type, other) || !json_is_array (samples)) {
            skipped++;
            continue;
        }
        size_t i;
        json_t *sample;
        json_array_foreach (json_object_get (family, "samples"), i, sample)
            json_array_append (samples, sample);
    }
    return skipped;
}

//  ---------------------------------------------------------------------------
//  Rendering (exposition format 0.0.4)

//  A metric or label name: [a-zA-Z_:][a-zA-Z0-9_:]* (labels: no ':')
static bool
s_name_valid (const char *name, bool label)
{
    if (!name || !*name || isdigit ((unsigned char)*name))
        return false;
    for (const char *p = name; *p; p++)
        if (!(isalnum ((unsigned char)*p) || *p == '_' || (*p == ':' && !label)))
            return false;
    return true;
}

//  `text` escaped: backslash and newline (HELP), and the double quote too
//  (label values)
static void
s_escaped (zchunk_t *out, const char *text, bool quote)
{
    for (const char *p = text; *p; p++) {
        const char *put = *p == '\\'           ? "\\\\"
                          : *p == '\n'         ? "\\n"
                          : quote && *p == '"' ? "\\\""
                                               : NULL;
        if (put)
            zchunk_extend (out, put, strlen (put));
        else
            zchunk_extend (out, p, 1);
    }
}

static void
s_text (zchunk_t *out, const char *text)
{
    zchunk_extend (out, text, strlen (text));
}

//  A sample value: integers as they are, others as %.15g, the infinities
//  and NaN as Prometheus spells them
static void
s_value (zchunk_t *out, const json_t *value)
{
    char text[64];
    double real = json_number_value (value);
    if (json_is_integer (value))
        snprintf (text, sizeof text, "%" PRId64, (int64_t)json_integer_value (value));
    else if (isnan (real))
        snprintf (text, sizeof text, "NaN");
    else if (isinf (real))
        snprintf (text, sizeof text, real > 0 ? "+Inf" : "-Inf");
    else
        snprintf (text, sizeof text, "%.15g", real);
    s_text (out, text);
}

//  name{labels[,le="bound"]} — `le` NULL for none
static void
s_series (zchunk_t *out, const char *name, const char *suffix, const json_t *labels,
          const char *le)
{
    s_text (out, name);
    s_text (out, suffix);
    bool open = false;
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *)labels, key, value)
    {
        if (!json_is_string (value) || !s_name_valid (key, true) || streq (key, "le"))
            continue;
        s_text (out, open ? "," : "{");
        open = true;
        s_text (out, key);
        s_text (out, "=\"");
        s_escaped (out, json_string_value (value), true);
        s_text (out, "\"");
    }
    if (le) {
        s_text (out, open ? ",le=\"" : "{le=\"");
        s_text (out, le);
        s_text (out, "\"");
        open = true;
    }
    s_text (out, open ? "} " : " ");
}

//  One histogram sample: cumulative buckets, +Inf (= count), _sum, _count
static void
s_histogram_sample (zchunk_t *out, const char *name, const json_t *bounds,
                    const json_t *sample)
{
    const json_t *labels = json_object_get (sample, "labels");
    const json_t *buckets = json_object_get (sample, "buckets");
    if (json_array_size (buckets) != json_array_size (bounds) + 1)
        return;
    json_int_t cumulative = 0;
    char le[64], number[64];
    for (size_t i = 0; i <= json_array_size (bounds); i++) {
        cumulative += json_integer_value (json_array_get (buckets, i));
        if (i < json_array_size (bounds))
            snprintf (le, sizeof le, "%.15g",
                      json_number_value (json_array_get (bounds, i)));
        else
            snprintf (le, sizeof le, "+Inf");
        s_series (out, name, "_bucket", labels, le);
        snprintf (number, sizeof number, "%" PRId64 "\n", (int64_t)cumulative);
        s_text (out, number);
    }
    s_series (out, name, "_sum", labels, NULL);
    s_value (out, json_object_get (sample, "sum"));
    s_text (out, "\n");
    s_series (out, name, "_count", labels, NULL);
    snprintf (number, sizeof number, "%" PRId64 "\n", (int64_t)cumulative);
    s_text (out, number);
}

static void
s_render_family (zchunk_t *out, const char *name, const json_t *family)
{
    const char *type = json_string_value (json_object_get (family, "type"));
    const char *help = json_string_value (json_object_get (family, "help"));
    const json_t *samples = json_object_get (family, "samples");
    const json_t *bounds = json_object_get (family, "bounds");
    bool histogram = type && streq (type, "histogram");
    if (!s_name_valid (name, false) || !type || !json_is_array (samples) ||
        !(histogram || streq (type, "counter") || streq (type, "gauge")) ||
        (histogram && !json_is_array (bounds)))
        return;
    s_text (out, "# HELP ");
    s_text (out, name);
    s_text (out, " ");
    s_escaped (out, help ? help : "", false);
    s_text (out, "\n# TYPE ");
    s_text (out, name);
    s_text (out, " ");
    s_text (out, type);
    s_text (out, "\n");
    size_t i;
    json_t *sample;
    json_array_foreach (samples, i, sample)
    {
        if (histogram) {
            s_histogram_sample (out, name, bounds, sample);
            continue;
        }
        if (!json_is_number (json_object_get (sample, "value")))
            continue;
        s_series (out, name, "", json_object_get (sample, "labels"), NULL);
        s_value (out, json_object_get (sample, "value"));
        s_text (out, "\n");
    }
}

static int
s_compare (const void *a, const void *b)
{
    return strcmp (*(const char *const *)a, *(const char *const *)b);
}

char *
actor_metrics_render (const json_t *families)
{
    size_t count = json_object_size (families), n = 0;
    const char **names = (const char **)calloc (count + 1, sizeof (char *));
    zchunk_t *out = zchunk_new (NULL, 4096);
    if (!names || !out) {
        free (names);
        zchunk_destroy (&out);
        return NULL;
    }
    const char *name;
    json_t *family;
    json_object_foreach ((json_t *)families, name, family) names[n++] = name;
    qsort (names, n, sizeof (char *), s_compare);
    for (size_t i = 0; i < n; i++)
        s_render_family (out, names[i], json_object_get (families, names[i]));
    char *text = strndup ((const char *)zchunk_data (out), zchunk_size (out));
    zchunk_destroy (&out);
    free (names);
    return text;
}
