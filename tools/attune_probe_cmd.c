/*  attune_probe_cmd: cmd: one reliable command over bus_link, until acknowledged.
*/
#include "tools/attune_probe.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bus/bus_security.h"
#include "bus/bus_link.h"
#include "proto/proto_json.h"

static void
s_help_cmd (FILE *out)
{
    fprintf (out,
             "usage: attune-probe cmd ENDPOINT TYPE [JSON] [--name NAME] [--timeout MS]\n"
             "Send one command (type TYPE, payload the JSON object) over the reliable\n"
             "link (DEALER, CMD framing, resent until acknowledged) to a *.commands\n"
             "ROUTER and wait: prints 'acked' and exits 0 once it is durable, or prints\n"
             "'rejected CODE: MESSAGE' and exits 1 when the receiver refuses it.\n"
             "  --name NAME     the link's routing id, unique per sender (default\n"
             "                  attune-probe@HOST; give each concurrent probe its own)\n"
             "  --timeout MS    wait at most MS ms for the ACK (default 5000)\n");
}

//  ---------------------------------------------------------------------------
//  cmd

typedef struct {
    bool acked;
    bool rejected;
    char code[64];
    char message[512];
} s_cmd_t;

static void
s_cmd_on_reject (void *arg, const proto_envelope_t *command, const char *code,
                 const char *message)
{
    s_cmd_t *self = (s_cmd_t *)arg;
    self->rejected = true;
    snprintf (self->code, sizeof self->code, "%s", code);
    snprintf (self->message, sizeof self->message, "%s", message);
}

static void
s_cmd_on_ack (void *arg, const uint8_t id[PROTO_UUID_SIZE])
{
    ((s_cmd_t *)arg)->acked = true;
}

int
probe_cmd_main (int argc, char *argv[])
{
    long long timeout = 5000;
    const char *name = NULL;
    probe_strings_t args = {0};
    probe_opt_t options[] = {{"name", PROBE_OPT_STRING, 0, 0, &name},
                             {"timeout", PROBE_OPT_NUMBER, 1, PROBE_MAX_MS, &timeout},
                             {NULL, 0, 0, 0, NULL}};
    const char *names[] = {"ENDPOINT", "TYPE", "JSON"};
    int rc = probe_parse (argc, argv, options, &args, names, 2, 3, s_help_cmd);
    if (rc == PROBE_CONTINUE && (probe_check_endpoint (args.items[0], false) != 0 ||
                                 probe_check_type ("TYPE", args.items[1], false) != 0))
        rc = PROBE_EXIT_USAGE;
    if (rc == PROBE_CONTINUE && name && (!*name || strlen (name) > PROBE_MAX_NAME))
        rc = probe_usage_error ("--name: '%.40s%s' must have 1..%d bytes", name,
                                strlen (name) > 40 ? "..." : "", PROBE_MAX_NAME);
    proto_envelope_t *command = NULL;
    if (rc == PROBE_CONTINUE) {
        command = probe_envelope_from_args (args.items[1],
                                            args.count > 2 ? args.items[2] : NULL);
        if (!command)
            rc = PROBE_EXIT_USAGE;
    }
    if (rc != PROBE_CONTINUE) {
        probe_strings_free (&args);
        return rc;
    }
    const char *endpoint = args.items[0];
    if (name)
        proto_envelope_set_source (command, name);
    bus_link_config_t config;
    bus_link_config_defaults (&config);
    bus_link_t *link = bus_link_new (endpoint, name ? name : probe_source, &config);
    s_cmd_t state = {0};
    rc = PROBE_EXIT_OK;
    if (!link)
        rc = probe_fail ("cannot open a link to %s: %s", endpoint,
                         zmq_strerror (zmq_errno ()));
    else {
        bus_link_set_reject_handler (link, s_cmd_on_reject, &state);
        bus_link_set_ack_handler (link, s_cmd_on_ack, &state);
        if (bus_link_send (link, &command) != 0)
            rc = probe_fail ("cannot send the command to %s: %s", endpoint,
                             errno == EMSGSIZE ? "larger than the frame limit"
                                               : zmq_strerror (zmq_errno ()));
        else {
            bus_link_flush (link, (int)timeout);
            if (state.rejected) {
                char line[640];
                snprintf (line, sizeof line, "rejected %s: %s", state.code,
                          state.message);
                probe_print_line (line);
                rc = PROBE_EXIT_FAIL;
            } else if (state.acked)
                probe_print_line ("acked");
            else
                rc = probe_fail (
                    "no acknowledgement from %s within %lld ms%s", endpoint, timeout,
                    zsys_interrupted ? " (interrupted)"
                                     : " (is a *.commands ROUTER there? the command may "
                                       "still arrive: resending it is safe)");
        }
    }
    bus_link_destroy (&link);
    proto_envelope_destroy (&command);
    probe_strings_free (&args);
    return rc;
}
