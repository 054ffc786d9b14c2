/*  attune_cli_client: the api client (bus/bus_client.h), connected on first use, and the
    last error; requests whose result is shown, and lists over their pages.
*/
#include "tools/attune_cli.h"

#include <stdarg.h>
#include "bus/bus_security.h"
#include "tools/attune_cli_pages.h"

void
cli_fail (cli_t *self, const char *code, const char *format, ...)
{
    snprintf (self->code, sizeof self->code, "%s", code);
    free (self->message);
    va_list args;
    va_start (args, format);
    self->message = zsys_vprintf (format, args);
    va_end (args);
}

//  Print the last error; returns the exit code for it.
int
cli_report (cli_t *self)
{
    fprintf (stderr, "attune: %s: %s\n", self->code[0] ? self->code : "error",
             self->message ? self->message : "failed");
    return CLI_EXIT_FAILED;
}

//  0 when `endpoint` can be reached: -1, said in the client's words, when
//  it needs CURVE and no keys were given.
static int
s_client_keys (cli_t *self, const char *endpoint)
{
    if (bus_security_needs (endpoint) && !bus_security_public_key ()) {
        cli_fail (self, "unavailable",
                  "%s is not loopback: it is reached only with CURVE (give --cert FILE "
                  "and --server-cert FILE, or $ATTUNE_CERT and $ATTUNE_SERVER_CERT)",
                  endpoint);
        return -1;
    }
    return 0;
}

//  CURVE for a socket to `endpoint` (bus_security_apply as a client). 0 or -1.
int
cli_secure (cli_t *self, zsock_t *sock, const char *endpoint)
{
    if (s_client_keys (self, endpoint) != 0)
        return -1;
    if (bus_security_apply (sock, endpoint, false, NULL) != 0) {
        cli_fail (self, "unavailable", "cannot set up CURVE for %s", endpoint);
        return -1;
    }
    return 0;
}

//  The api client (bus/bus_client.h), connected on first use: a request
//  with no reply by half the timeout is sent once more with the same id.
static bus_client_t *
s_client_api (cli_t *self)
{
    if (self->api)
        return self->api;
    if (s_client_keys (self, self->endpoint) != 0)
        return NULL;
    bus_client_t *api = bus_client_new (self->source);
    if (!api) {
        cli_fail (self, "nomem", "cannot make the api client");
        return NULL;
    }
    bus_client_set_timeout (api, self->timeout_ms);
    bus_client_set_resend (api, true);
    if (bus_client_connect (api, self->endpoint) != 0) {
        cli_fail (self, bus_client_code (api), "%s", bus_client_message (api));
        bus_client_destroy (&api);
        return NULL;
    }
    self->api = api;
    return api;
}

//  Send one request and wait for its reply. Takes ownership of `payload`
//  (NULL = {}). Returns the result (caller owns it), or NULL with the
//  client's error set (the api's code and message for api.error).
json_t *
cli_request (cli_t *self, const char *type, json_t *payload)
{
    self->code[0] = 0;
    bus_client_t *api = s_client_api (self);
    json_t *result = api ? bus_client_request (api, type, &payload) : NULL;
    if (api && !result)
        cli_fail (self, bus_client_code (api), "%s", bus_client_message (api));
    json_decref (payload);
    return result;
}

//  A request whose result is shown as JSON with --json, or by `show`.
int
cli_simple (cli_t *client, const char *type, json_t *payload,
            void (*show) (const json_t *result))
{
    json_t *result = cli_request (client, type, payload);
    if (!result)
        return cli_report (client);
    if (client->json)
        cli_print_json (result);
    else
        show (result);
    json_decref (result);
    return CLI_EXIT_OK;
}

static json_t *
s_request_fn (void *client, const char *type, json_t *payload)
{
    return cli_request ((cli_t *)client, type, payload);
}

//  A list followed through its pages up to `total` items (0: all), shown as
//  one; `cursor` is where a page's `next` goes in the next request.
int
cli_list (cli_t *client, const char *type, json_t *payload, const char *cursor,
          size_t total, void (*show) (const json_t *result))
{
    json_t *result =
        attune_cli_pages_fetch (s_request_fn, client, type, payload, cursor, total);
    if (!result)
        return cli_report (client);
    if (client->json)
        cli_print_json (result);
    else {
        show (result);
        if (cli_str (result, "next"))
            fprintf (stderr, "(more: --%s %s)\n", cursor, cli_str (result, "next"));
    }
    json_decref (result);
    return CLI_EXIT_OK;
}
