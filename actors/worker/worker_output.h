/*  worker_output: the live output of one running process, in chunks
    (proto/PROTOCOL.md, "Live output").

    What the process writes on stdout and stderr is fed here as it is read;
    worker_output_take hands out `execution.output` payloads when they are
    due: a stream's bytes wait at most WORKER_OUTPUT_DELAY_MS, or until
    WORKER_OUTPUT_CHUNK bytes wait, so a chatty process makes at most ten
    chunks a second per stream plus one per 64 KiB. Once `cap` bytes have
    been streamed, or WORKER_OUTPUT_CHUNKS_MAX - 1 chunks (a process that
    trickles for hours), one last chunk says `truncated` and the rest is
    dropped.

    Each chunk has the next sequence number of the execution (from 0, both
    streams, no gap), the stream's name and the bytes streamed before it.
    Data is valid UTF-8: a multi-byte character cut by a read waits for its
    end; a byte that cannot be UTF-8 becomes U+FFFD. The values of the
    job's secret parameters are masked, as in its result.
*/
#ifndef WORKER_OUTPUT_H_INCLUDED
#define WORKER_OUTPUT_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WORKER_OUTPUT_CHUNK      (64 * 1024)       //  bytes of one chunk, at most
#define WORKER_OUTPUT_DELAY_MS   100               //  a byte waits this long, at most
#define WORKER_OUTPUT_STREAM_CAP (4 * 1024 * 1024) //  bytes streamed per execution
#define WORKER_OUTPUT_CHUNKS_MAX 65536 //  chunks per execution, the marker too

typedef struct _worker_output_t worker_output_t;

//  The live output of execution `id` from worker `worker`: at most `cap`
//  bytes streamed. NULL when out of memory.
worker_output_t *worker_output_new (const char *id, const char *worker, size_t cap);

//  Free; safe on NULL; clears the pointer.
void worker_output_destroy (worker_output_t **self_p);

//  Bytes read from stream `stream` (1 stdout, 2 stderr) at monotonic ms `now`.
void worker_output_feed (worker_output_t *self, int stream, const char *data, size_t size,
                         int64_t now);

//  The next chunk due at `now` as an execution.output payload (caller owns
//  it), or NULL. With `final` (the process has ended), everything waiting
//  is due.
json_t *worker_output_take (worker_output_t *self, int64_t now, bool final);

//  Milliseconds until a chunk is due (0: now), or -1 when nothing waits.
int worker_output_timeout (worker_output_t *self, int64_t now);

//  Values never to stream (an array of strings, copied): each is masked
//  (pack_config_mask_text) in the chunks, and never cut by a chunk's end.
void worker_output_set_secrets (worker_output_t *self, const json_t *values);

//  Stdout from `end` on (copied; the python wrapper's result line: a
//  newline and its marker) is not streamed.
void worker_output_set_end (worker_output_t *self, const char *end);

//  Chunks handed out so far.
uint64_t worker_output_chunks (worker_output_t *self);

#ifdef __cplusplus
}
#endif

#endif
