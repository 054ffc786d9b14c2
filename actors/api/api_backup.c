/*  api_backup: api.backup {dir}, a consistent hot copy of every store
    (api_internal.h; proto/PROTOCOL.md, "Backup").

    The api owns no store: it asks each store's owner, on the owner's query
    endpoint, for `store.backup {dir}`; the owner copies its store in its own
    thread (actor_query_set_store) and answers. One store at a time, in
    s_order, each asked once the one before answered, so each copy is at
    least as new as the ones before it. Then the manifest: dir/manifest.json,
    written to a temporary file, fsynced and renamed, so a directory with a
    manifest holds a complete backup. One backup at a time.
*/
#include "actors/api/api_internal.h"
#include "proto/proto_json.h"
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

//  The version of attune written in the manifest (CMakeLists.txt: project)
#define S_ATTUNE_VERSION "0.1.0"
#define S_MANIFEST       "manifest.json"

//  Senders before receivers, definitions last (PROTOCOL.md, "Backup"). What
//  sends to (and refers to) what, each through an outbox the receiver acks
//  once durable, so a sender copied first loses nothing:
//    sensor    -> rules      sensor events and process triggers (event.create)
//    datastore -> rules      key events (event.create)
//    rules     -> executor   enforcement.create; executions refer to the
//                            enforcement, event and rule that made them
//    workflow  -> executor   api.execution.run of each task (request ids
//                            derived from the run and the task: a resend is
//                            the same child); the engine's runs refer to
//                            their children, which must exist in the
//                            executor's copy: so the engine goes before it
//    executor  -> workflow   execution.dispatch of a workflow: one made
//                            between the two copies is settled as a lost
//                            worker's run on restore (the engine never had it)
//    executor  -> rules      built-in triggers (actiontrigger, notify,
//                            inquiry) from its outbox: against rules ->
//                            executor, a cycle no single order closes; the
//                            executions rules fire are kept (rules first),
//                            and a trigger event rules acked between the
//                            two copies is in neither (PROTOCOL.md, "Known
//                            limits")
//    registry  <- all        definitions, referred to by everyone: last.
//  The workflow engine's and the sensor actor's stores are asked for when
//  they are in this data directory (they run in this process).
static const int s_order[] = {API_SENSOR,   API_DATASTORE, API_RULES,
                              API_WORKFLOW, API_EXECUTOR,  API_REGISTRY};
#define S_STORES (sizeof s_order / sizeof s_order[0])

struct _api_backup_t {
    zframe_t *identity;
    bool delimiter;
    uint8_t request[PROTO_UUID_SIZE];
    char dir[2048];
    size_t step;     //  index in s_order of the store being copied
    json_t *stores;  //  the manifest's list so far
    int64_t started; //  µs since the epoch
};

static void
s_backup_free (api_t *self, api_backup_t **backup_p)
{
    api_backup_t *backup = *backup_p;
    if (!backup)
        return;
    zframe_destroy (&backup->identity);
    json_decref (backup->stores);
    free (backup);
    *backup_p = NULL;
    self->backup = NULL;
}

//  Answer the client (result taken, or an error) and forget the backup.
static void
s_finish (api_t *self, json_t *result, const char *code, const char *message)
{
    api_backup_t *backup = self->backup;
    if (code)
        zsys_error ("api: backup to %s failed: %s", backup->dir, message);
    api_answer (self, backup->identity, backup->delimiter, backup->request, result, code,
                "%s", message ? message : "");
    s_backup_free (self, &backup);
}

//  True when store `name` is in the daemon's data directory.
static bool
s_store_here (api_t *self, const char *name)
{
    char path[2400];
    snprintf (path, sizeof path, "%s/%s/data.mdb", self->data_dir, name);
    return access (path, F_OK) == 0;
}

//  Whether this backup copies `owner`'s store: the sensor actor's when it
//  runs in this process (its endpoint inproc: a sensor host's store is its
//  own; stores_not_copied names it when its directory is here all the
//  same), the workflow engine's when its store is in this data directory.
static bool
s_copied (api_t *self, int owner)
{
    if (owner == API_SENSOR)
        return self->sensor_here;
    if (owner == API_WORKFLOW)
        return s_store_here (self, api_owner_names[API_WORKFLOW]);
    return true;
}

static void s_manifest (api_t *self);

//  Ask the owner of the next store copied for its copy, or write the
//  manifest after the last.
static void
s_ask (api_t *self)
{
    api_backup_t *backup = self->backup;
    while (backup->step < S_STORES && !s_copied (self, s_order[backup->step]))
        backup->step++;
    if (backup->step == S_STORES) {
        s_manifest (self);
        return;
    }
    int owner = s_order[backup->step];
    proto_envelope_t *ask = proto_envelope_new ("store.backup", self->source);
    json_t *payload = json_pack ("{s:s}", "dir", backup->dir);
    uint8_t id[PROTO_UUID_SIZE];
    msgpack_sbuffer_clear (&self->buffer);
    bool sent = ask && payload &&
                proto_envelope_set_payload_json (ask, payload, NULL) == 0 &&
                proto_envelope_encode (ask, &self->buffer) == 0 &&
                zmq_send (zsock_resolve (self->owners[owner]), self->buffer.data,
                          self->buffer.size, ZMQ_DONTWAIT) != -1;
    if (ask)
        memcpy (id, proto_envelope_id (ask), sizeof id);
    json_decref (payload);
    proto_envelope_destroy (&ask);
    if (!sent) {
        char message[256];
        snprintf (message, sizeof message, "%s: cannot ask it for its copy",
                  api_owner_names[owner]);
        s_finish (self, NULL, "unavailable", message);
        return;
    }
    api_pending_t *pending =
        api_pending_new (self, id, NULL, false, backup->request, API_BACKUP_STEP_MS);
    pending->backup = backup;
}

//  On to the next store, or the manifest after the last.
static void
s_next (api_t *self)
{
    self->backup->step++;
    s_ask (self);
}

//  Write `text` to `path` through a temporary file, fsynced, renamed. 0 or
//  an errno.
static int
s_write_file (const char *path, const char *text)
{
    char temp[4200];
    snprintf (temp, sizeof temp, "%s.tmp", path);
    int fd = open (temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return errno;
    size_t size = strlen (text);
    int err = write (fd, text, size) == (ssize_t)size && fsync (fd) == 0 ? 0 : errno;
    close (fd);
    if (!err && rename (temp, path) != 0)
        err = errno;
    return err;
}

//  Copy <data>/http/apikeys.json (hashes of the gateway's keys; replaced
//  whole by rename, so read whole) when there is one. Its manifest entry,
//  or NULL.
static json_t *
s_copy_http_keys (api_t *self, api_backup_t *backup)
{
    char from[1100], dir[2100], to[2200];
    snprintf (from, sizeof from, "%s/http/apikeys.json", self->data_dir);
    FILE *in = fopen (from, "rb");
    if (!in)
        return NULL;
    zchunk_t *chunk = zchunk_read (in, 16 << 20);
    fclose (in);
    snprintf (dir, sizeof dir, "%s/http", backup->dir);
    snprintf (to, sizeof to, "%s/apikeys.json", dir);
    char *text =
        chunk ? strndup ((char *)zchunk_data (chunk), zchunk_size (chunk)) : NULL;
    json_t *entry = NULL;
    if (text && (mkdir (dir, 0750) == 0 || errno == EEXIST) &&
        s_write_file (to, text) == 0)
        entry = json_pack ("{s:s, s:I}", "path", "http/apikeys.json", "size",
                           (json_int_t)zchunk_size (chunk));
    else
        zsys_warning ("api: backup: cannot copy %s to %s", from, to);
    free (text);
    zchunk_destroy (&chunk);
    return entry;
}

//  Stores in the data directory that no owner copied (an actor whose store
//  the api does not know how to ask for): named in the manifest and the
//  log, so a backup never leaves one out silently.
static json_t *
s_uncopied (api_t *self, api_backup_t *backup)
{
    json_t *missing = json_array ();
    DIR *dir = opendir (self->data_dir);
    for (struct dirent *entry = dir ? readdir (dir) : NULL; entry;
         entry = readdir (dir)) {
        char path[2400];
        struct stat st;
        snprintf (path, sizeof path, "%s/%s/data.mdb", self->data_dir, entry->d_name);
        if (entry->d_name[0] == '.' || stat (path, &st) != 0)
            continue;
        bool copied = false;
        size_t i;
        json_t *store;
        json_array_foreach (backup->stores, i, store)
        {
            copied =
                copied || streq (json_string_value (json_object_get (store, "store")),
                                 entry->d_name);
        }
        if (!copied) {
            zsys_warning ("api: backup: the store %s/%s is not copied (no owner answers "
                          "store.backup for it)",
                          self->data_dir, entry->d_name);
            json_array_append_new (missing, json_string (entry->d_name));
        }
    }
    if (dir)
        closedir (dir);
    return missing;
}

//  Every store copied: the other files, then the manifest.
static void
s_manifest (api_t *self)
{
    api_backup_t *backup = self->backup;
    json_t *files = json_array ();
    json_t *keys = s_copy_http_keys (self, backup);
    if (keys)
        json_array_append_new (files, keys);
    json_t *manifest = json_pack (
        "{s:s, s:i, s:i, s:i, s:s, s:I, s:I, s:O, s:o, s:s, s:o}", "attune",
        S_ATTUNE_VERSION, "manifest", 1, "protocol", PROTO_VERSION, "store_format",
        STORE_FORMAT_VERSION, "data", self->data_dir, "started",
        (json_int_t)backup->started, "finished", (json_int_t)proto_now_usec (), "stores",
        backup->stores, "files", files, "not_copied",
        "worker ledgers (they hold one boot's processes: a restored daemon's workers "
        "start clean and the executor settles what was running)",
        "stores_not_copied", s_uncopied (self, backup));
    char *text =
        manifest ? json_dumps (manifest, JSON_INDENT (2) | JSON_SORT_KEYS) : NULL;
    char path[2200];
    snprintf (path, sizeof path, "%s/%s", backup->dir, S_MANIFEST);
    int err = text ? s_write_file (path, text) : ENOMEM;
    free (text);
    if (err) {
        char message[2400];
        snprintf (message, sizeof message, "%s: cannot write the manifest (%s)", path,
                  strerror (err));
        json_decref (manifest);
        s_finish (self, NULL, "internal", message);
        return;
    }
    zsys_info ("api: backup of %zu stores in %s", json_array_size (backup->stores),
               backup->dir);
    s_finish (self, manifest, NULL, NULL);
}

void
api_backup_part_done (api_t *self, api_backup_t *backup, json_t *reply, bool error)
{
    assert (backup == self->backup);
    const char *name = api_owner_names[s_order[backup->step]];
    char message[2600];
    if (!reply) {
        snprintf (message, sizeof message,
                  "%s: no answer within %d s (is it running in this process?); the "
                  "copies so far are in %s, without a manifest",
                  name, API_BACKUP_STEP_MS / 1000, backup->dir);
        s_finish (self, NULL, "unavailable", message);
        return;
    }
    if (error) {
        const char *code = json_string_value (json_object_get (reply, "code"));
        snprintf (message, sizeof message, "%s: %s", name,
                  json_string_value (json_object_get (reply, "message")));
        s_finish (self, NULL, code ? code : "internal", message);
        return;
    }
    json_t *result = json_object_get (reply, "result");
    json_t *entry = json_is_object (result) ? json_deep_copy (result) : json_object ();
    json_object_set_new (entry, "order",
                         json_integer ((json_int_t)json_array_size (backup->stores) + 1));
    json_object_set_new (entry, "path", json_string (name)); //  relative to dir
    const char *file = json_string_value (json_object_get (entry, "file"));
    size_t prefix = strlen (backup->dir);
    if (file && strncmp (file, backup->dir, prefix) == 0 && file[prefix] == '/')
        json_object_set_new (entry, "file", json_string (file + prefix + 1));
    json_array_append_new (backup->stores, entry);
    s_next (self);
}

//  `dir`: absolute, and a new or empty directory (made 0700: it will hold
//  the datastore's secret key). NULL, or why not.
static const char *
s_dir_check (const char *dir, char *message, size_t size)
{
    if (!dir || dir[0] != '/')
        return "dir: expected an absolute path (on the daemon's host)";
    if (strlen (dir) > 1900)
        return "dir: path too long";
    if (mkdir (dir, 0700) == 0)
        return NULL;
    if (errno != EEXIST) {
        snprintf (message, size, "%s: cannot create the directory (%s)", dir,
                  strerror (errno));
        return message;
    }
    DIR *listing = opendir (dir);
    bool empty = listing != NULL;
    for (struct dirent *entry = listing ? readdir (listing) : NULL; entry && empty;
         entry = readdir (listing))
        empty = streq (entry->d_name, ".") || streq (entry->d_name, "..");
    if (listing)
        closedir (listing);
    if (!empty) {
        snprintf (message, size,
                  "%s: not an empty directory (a backup goes to a new one)", dir);
        return message;
    }
    return NULL;
}

void
api_backup_start (api_t *self, zframe_t *identity, bool delimiter,
                  const uint8_t request[PROTO_UUID_SIZE], const char *dir)
{
    if (self->backup && memcmp (self->backup->request, request, PROTO_UUID_SIZE) == 0)
        return; //  the client resent it: the one answer comes when done
    char message[2100];
    const char *why = self->backup ? "a backup is under way already: try again later"
                                   : s_dir_check (dir, message, sizeof message);
    if (why) {
        api_answer (self, identity, delimiter, request, NULL,
                    self->backup ? "unavailable" : "bad_request", "%s", why);
        return;
    }
    api_backup_t *backup = (api_backup_t *)zmalloc (sizeof (api_backup_t));
    backup->identity = zframe_dup (identity);
    backup->delimiter = delimiter;
    memcpy (backup->request, request, PROTO_UUID_SIZE);
    snprintf (backup->dir, sizeof backup->dir, "%s", dir);
    backup->stores = json_array ();
    backup->started = proto_now_usec ();
    self->backup = backup;
    zsys_info ("api: backup to %s", dir);
    s_ask (self);
}

void
api_backup_destroy (api_t *self)
{
    s_backup_free (self, &self->backup);
}
