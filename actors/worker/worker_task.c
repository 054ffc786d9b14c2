/*  worker_task: a job in a helper thread (worker_task.h). */
#include "actors/worker/worker_task.h"

#include <pthread.h>
#include <stdatomic.h>

struct _worker_task_t {
    worker_task_fn *fn;
    json_t *parameters;
    json_t *action;
    char *endpoint;
    char *id;
    json_t *result;     //  set by the thread before it says done
    const char *status; //  a static string
    atomic_bool abort;
    atomic_bool done;
    atomic_int refs;
    pthread_mutex_t lock;    //  the output: fed by the runner, taken by the loop
    worker_output_t *output; //  live output, NULL: none
};

static void
s_release (worker_task_t *self)
{
    if (atomic_fetch_sub (&self->refs, 1) == 1) {
        json_decref (self->parameters);
        json_decref (self->action);
        json_decref (self->result);
        worker_output_destroy (&self->output);
        pthread_mutex_destroy (&self->lock);
        free (self->endpoint);
        free (self->id);
        free (self);
    }
}

static void *
s_thread (void *arg)
{
    worker_task_t *self = (worker_task_t *)arg;
    const char *status = "failed";
    json_t *result = self->fn (self, self->parameters, self->action, &status);
    if (!result)
        result = json_pack ("{s:s}", "error", "out of memory");
    if (atomic_load (&self->abort) && strcmp (status, "completed") != 0)
        status = "cancelled";
    self->result = result;
    self->status = status;
    atomic_store (&self->done, true);
    //  The loop learns it here; nobody listens once the worker is gone
    //  (the send then fails at once, and does not linger)
    zsock_t *push = zsock_new (ZMQ_PUSH);
    if (push) {
        zsock_set_sndtimeo (push, 0);
        zsock_set_linger (push, 0);
        if (zsock_connect (push, "%s", self->endpoint) == 0)
            zstr_send (push, self->id);
        zsock_destroy (&push);
    }
    s_release (self);
    return NULL;
}

worker_task_t *
worker_task_start (worker_task_fn *fn, json_t **parameters, json_t **action,
                   const char *endpoint, const char *id, worker_output_t **output)
{
    worker_task_t *self = (worker_task_t *)calloc (1, sizeof (worker_task_t));
    if (self) {
        pthread_mutex_init (&self->lock, NULL);
        self->output = output ? *output : NULL;
        if (output)
            *output = NULL;
        self->fn = fn;
        self->parameters = *parameters;
        self->action = *action;
        *parameters = *action = NULL;
        self->endpoint = strdup (endpoint);
        self->id = strdup (id);
        atomic_init (&self->abort, false);
        atomic_init (&self->done, false);
        atomic_init (&self->refs, 2);
    }
    pthread_t thread;
    pthread_attr_t attr;
    pthread_attr_init (&attr);
    pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
    if (!self || !self->endpoint || !self->id ||
        pthread_create (&thread, &attr, s_thread, self) != 0) {
        if (self) {
            self->refs = 1;
            s_release (self);
        } else {
            if (output)
                worker_output_destroy (output);
            json_decref (*parameters);
            json_decref (*action);
            *parameters = *action = NULL;
        }
        self = NULL;
    }
    pthread_attr_destroy (&attr);
    return self;
}

void
worker_task_output (worker_task_t *self, int stream, const char *data, size_t size)
{
    if (!self || !self->output)
        return;
    pthread_mutex_lock (&self->lock);
    worker_output_feed (self->output, stream, data, size, zclock_mono ());
    pthread_mutex_unlock (&self->lock);
}

json_t *
worker_task_output_take (worker_task_t *self, int64_t now, bool final)
{
    if (!self->output)
        return NULL;
    pthread_mutex_lock (&self->lock);
    json_t *chunk = worker_output_take (self->output, now, final);
    pthread_mutex_unlock (&self->lock);
    return chunk;
}

int
worker_task_output_timeout (worker_task_t *self, int64_t now)
{
    if (!self->output)
        return -1;
    pthread_mutex_lock (&self->lock);
    int timeout = worker_output_timeout (self->output, now);
    pthread_mutex_unlock (&self->lock);
    return timeout;
}

bool
worker_task_aborted (worker_task_t *self)
{
    return atomic_load (&self->abort);
}

void
worker_task_abort (worker_task_t *self)
{
    atomic_store (&self->abort, true);
}

json_t *
worker_task_take (worker_task_t *self, const char **status)
{
    if (!atomic_load (&self->done))
        return NULL;
    json_t *result = self->result;
    self->result = NULL;
    *status = self->status;
    return result;
}

void
worker_task_destroy (worker_task_t **self_p)
{
    if (*self_p) {
        atomic_store (&(*self_p)->abort, true);
        s_release (*self_p);
        *self_p = NULL;
    }
}
