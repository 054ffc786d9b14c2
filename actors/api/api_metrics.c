/*  api_metrics: api.metrics, the Prometheus text of every actor's metrics
    (api_internal.h; proto/PROTOCOL.md, "Metrics").

    The api asks each owner (registry, rules, executor, datastore, sensor) for
    `metrics.get` on its query endpoint, as api.status asks for its status:
    the same parts, answered within API_STATUS_TIMEOUT_MS or counted down.
    Each answers its families as data (actor_metrics.h); the api merges
    them with its own, adds attune_up per actor, and renders one text. What
    runs elsewhere and has no query endpoint (workers, sensors) is not
    asked: the executor's view of the workers stands for them.
*/
#include "actors/api/api_internal.h"
#include "actors/actor_metrics.h"

void
api_metrics_start (api_t *self, zframe_t *identity, bool delimiter,
                   const uint8_t request[PROTO_UUID_SIZE])
{
    api_status_t *status = (api_status_t *)zmalloc (sizeof (api_status_t));
    status->identity = zframe_dup (identity);
    status->delimiter = delimiter;
    memcpy (status->request, request, PROTO_UUID_SIZE);
    status->actors = json_object ();
    status->metrics = true;
    api_status_ask (self, status, "metrics.get");
}

//  The api's own families: its counters and its links
static void
s_api_families (api_t *self, json_t *families)
{
    static const struct {
        const char *name, *help;
        size_t offset;
    } counters[] = {
        {"attune_api_requests_total", "Requests the api received.",
         offsetof (api_t, requests)},
        {"attune_api_replies_total", "Replies the api sent (not errors).",
         offsetof (api_t, replies)},
        {"attune_api_errors_total", "Errors the api answered.", offsetof (api_t, errors)},
        {"attune_api_malformed_total", "Requests the api could not read.",
         offsetof (api_t, malformed)},
        {"attune_api_dropped_replies_total",
         "Replies whose client was gone or had 100,000 unread.",
         offsetof (api_t, dropped)},
        {"attune_api_facts_forwarded_total",
         "Facts the api forwarded to its subscribers.",
         offsetof (api_t, forwarded_facts)},
    };
    for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++)
        actor_metrics_add (
            families, counters[i].name, "counter", counters[i].help,
            (double)*(const uint64_t *)((const char *)self + counters[i].offset), NULL);
    actor_metrics_add (families, "attune_api_pending_requests", "gauge",
                       "Requests in flight in the api.",
                       (double)zhashx_size (self->pending), NULL);
    actor_metrics_link (families, "api", "registry", self->registry_link);
    actor_metrics_link (families, "api", "rules", self->rules_link);
}

void
api_metrics_finish (api_t *self, api_status_t *status)
{
    json_t *families = json_object ();
    for (int owner = 0; owner < API_OWNERS; owner++) {
        const char *name = api_owner_names[owner];
        json_t *part =
            json_object_get (json_object_get (status->actors, name), "families");
        bool up = json_is_object (part);
        if (up && actor_metrics_merge (families, part) > 0)
            zsys_warning ("api: metrics of %s: a family of another type was skipped",
                          name);
        actor_metrics_add (families, "attune_up", "gauge",
                           "1 when the actor answered the api's metrics.get within 1 s.",
                           up ? 1 : 0, "actor", name, NULL);
    }
    s_api_families (self, families);
    char *text = actor_metrics_render (families);
    json_decref (families);
    if (text)
        api_answer (self, status->identity, status->delimiter, status->request,
                    json_pack ("{s:s}", "text", text), NULL, NULL);
    else
        api_answer (self, status->identity, status->delimiter, status->request, NULL,
                    "internal", "api.metrics: out of memory");
    free (text);
    zframe_destroy (&status->identity);
    json_decref (status->actors);
    free (status);
}
