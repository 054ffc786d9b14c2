/*  attune_cli_output: an execution's live output as `execution tail` prints
    it (proto/PROTOCOL.md, "Live output"): what is stored, read by offset
    (api.execution.output), then the `execution.output` facts as they come,
    in sequence order; a fact past the next expected sequence number (facts
    were lost) reads the missing chunks by offset first. Chunks of stdout go
    to stdout, chunks of stderr to stderr, as the action wrote them.
*/
#include "tools/attune_cli.h"

#define S_FETCH_PAGES 10000 //  pages read at once, at most (1000 chunks each)

static void
s_print (cli_output_t *self, const json_t *chunk)
{
    const char *stream = cli_str (chunk, "stream");
    json_t *data = json_object_get (chunk, "data");
    FILE *out = stream && streq (stream, "stderr") ? stderr : stdout;
    if (json_is_string (data) && !self->client->json) {
        fwrite (json_string_value (data), 1, json_string_length (data), out);
        fflush (out);
    }
    if (json_is_true (json_object_get (chunk, "truncated")))
        self->truncated = true;
    self->chunks++;
}

int
cli_output_fetch (cli_output_t *self)
{
    for (int page = 0; page < S_FETCH_PAGES && !self->off; page++) {
        json_t *answer = cli_request (
            self->client, "api.execution.output",
            json_pack ("{s:s, s:I}", "id", self->id, "offset", (json_int_t)self->next));
        if (!answer && streq (self->client->code, "unknown_type")) {
            //  An api older than live output: follow the status only
            fprintf (stderr, "attune: warning: the api serves no live output (%s)\n",
                     self->client->message ? self->client->message : "");
            self->off = true;
            return 0;
        }
        if (!answer)
            return -1;
        json_t *chunks = json_object_get (answer, "chunks");
        size_t i;
        json_t *chunk;
        json_array_foreach (chunks, i, chunk)
        {
            if ((uint64_t)cli_int (chunk, "seq") >= self->next)
                s_print (self, chunk);
        }
        int64_t next = cli_int (answer, "next");
        bool more = json_array_size (chunks) > 0 && (uint64_t)next > self->next;
        if (next > 0 && (uint64_t)next > self->next)
            self->next = (uint64_t)next;
        json_decref (answer);
        if (!more)
            break;
    }
    return 0;
}

void
cli_output_fact (cli_output_t *self, const json_t *fact)
{
    int64_t seq = cli_int (fact, "seq");
    if (seq < 0 || (uint64_t)seq < self->next)
        return; //  printed already
    if ((uint64_t)seq > self->next)
        cli_output_fetch (self); //  facts were lost: read what is missing
    if ((uint64_t)seq == self->next) {
        s_print (self, fact);
        self->next++;
    }
}
