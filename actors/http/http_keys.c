/*  http_keys: the gateway's API keys, stored hashed (http_keys.h).
*/
#include "actors/http/http_keys.h"

#include <czmq.h>
#include <pthread.h>
#include <sodium.h>
#include <sys/stat.h>

struct _http_keys_t {
    char *path;
    pthread_mutex_t lock;
    json_t *keys; //  the file's "keys"
    struct timespec mtime;
    off_t size;
    bool loaded;
};

static const char *s_roles[] = {"viewer", "operator", "admin", NULL};

static bool
s_role_valid (const char *role)
{
    for (int i = 0; role && s_roles[i]; i++)
        if (streq (role, s_roles[i]))
            return true;
    return false;
}

static bool
s_name_valid (const char *name)
{
    size_t n = name ? strlen (name) : 0;
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum ((unsigned char)name[i]) && !strchr ("-_.@", name[i]))
            return false;
    return true;
}

//  The hash of a key, hex
static void
s_hash (const char *key, char out[65])
{
    unsigned char digest[32];
    crypto_generichash (digest, sizeof digest, (const unsigned char *)key, strlen (key),
                        NULL, 0);
    sodium_bin2hex (out, 65, digest, sizeof digest);
}

char *
http_keys_path (const char *data_dir)
{
    char *path = NULL;
    if (asprintf (&path, "%s/http/apikeys.json", data_dir ? data_dir : ".") < 0)
        return NULL;
    return path;
}

//  The file's keys (an empty list when there is no file); NULL when it
//  does not load
static json_t *
s_load (const char *path, char *message, size_t size)
{
    if (!zsys_file_exists (path))
        return json_array ();
    json_error_t error;
    json_t *root = json_load_file (path, 0, &error);
    json_t *keys = json_incref (json_object_get (root, "keys"));
    json_decref (root);
    if (!json_is_array (keys)) {
        snprintf (message, size, "%s: not an API key file (%s)", path,
                  root ? "no \"keys\" list" : error.text);
        json_decref (keys);
        return NULL;
    }
    return keys;
}

static int
s_save (const char *path, json_t *keys, char *message, size_t size)
{
    char *dir = strdup (path);
    char *slash = strrchr (dir, '/');
    if (slash) {
        *slash = 0;
        zsys_dir_create ("%s", dir);
    }
    free (dir);
    char temp[PATH_MAX];
    snprintf (temp, sizeof temp, "%s.tmp", path);
    json_t *root = json_pack ("{s:O}", "keys", keys);
    int rc = json_dump_file (root, temp, JSON_INDENT (2));
    json_decref (root);
    if (rc == 0)
        chmod (temp, 0600);
    if (rc != 0 || rename (temp, path) != 0) {
        snprintf (message, size, "%s: cannot write: %s", path, strerror (errno));
        return -1;
    }
    return 0;
}

static json_t *
s_find (json_t *keys, const char *name, size_t *index)
{
    size_t i;
    json_t *entry;
    json_array_foreach (keys, i, entry)
    {
        const char *entry_name = json_string_value (json_object_get (entry, "name"));
        if (entry_name && streq (entry_name, name)) {
            if (index)
                *index = i;
            return entry;
        }
    }
    return NULL;
}

http_keys_t *
http_keys_new (const char *path)
{
    if (sodium_init () < 0)
        return NULL;
    http_keys_t *self = (http_keys_t *)zmalloc (sizeof (http_keys_t));
    self->path = strdup (path);
    self->keys = json_array ();
    pthread_mutex_init (&self->lock, NULL);
    return self;
}

void
http_keys_destroy (http_keys_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        http_keys_t *self = *self_p;
        pthread_mutex_destroy (&self->lock);
        json_decref (self->keys);
        free (self->path);
        free (self);
        *self_p = NULL;
    }
}

//  Read the file again when it changed (under the lock)
static void
s_refresh (http_keys_t *self)
{
    struct stat st;
    if (stat (self->path, &st) != 0) {
        json_array_clear (self->keys);
        self->loaded = false;
        return;
    }
    if (self->loaded && st.st_size == self->size &&
        st.st_mtim.tv_sec == self->mtime.tv_sec &&
        st.st_mtim.tv_nsec == self->mtime.tv_nsec)
        return;
    char message[512];
    json_t *keys = s_load (self->path, message, sizeof message);
    if (!keys) {
        zsys_warning ("http: %s", message);
        return; //  keep the keys last read
    }
    json_decref (self->keys);
    self->keys = keys;
    self->mtime = st.st_mtim;
    self->size = st.st_size;
    self->loaded = true;
}

http_keys_code_t
http_keys_check (http_keys_t *self, const char *key, char *name, size_t name_size,
                 char *role, size_t role_size)
{
    assert (self);
    if (!key || strlen (key) != HTTP_KEY_SIZE - 1)
        return HTTP_KEYS_UNKNOWN;
    char hash[65];
    s_hash (key, hash);
    http_keys_code_t code = HTTP_KEYS_UNKNOWN;
    pthread_mutex_lock (&self->lock);
    s_refresh (self);
    size_t i;
    json_t *entry;
    json_array_foreach (self->keys, i, entry)
    {
        const char *stored = json_string_value (json_object_get (entry, "hash"));
        if (!stored || strlen (stored) != 64 || sodium_memcmp (stored, hash, 64) != 0)
            continue;
        if (!json_is_true (json_object_get (entry, "enabled")))
            code = HTTP_KEYS_DISABLED;
        else {
            code = HTTP_KEYS_OK;
            snprintf (name, name_size, "%s",
                      json_string_value (json_object_get (entry, "name")));
            snprintf (role, role_size, "%s",
                      json_string_value (json_object_get (entry, "role")));
        }
    }
    pthread_mutex_unlock (&self->lock);
    return code;
}

http_keys_code_t
http_keys_create (const char *path, const char *name, const char *role,
                  char key[HTTP_KEY_SIZE], char *message, size_t size)
{
    if (!s_name_valid (name) || !s_role_valid (role)) {
        snprintf (message, size, "%s",
                  !s_name_valid (name)
                      ? "a key name is 1-64 letters, digits, '-', '_', '.' or '@'"
                      : "--role: viewer, operator or admin");
        return HTTP_KEYS_INVALID;
    }
    if (sodium_init () < 0)
        return HTTP_KEYS_IO;
    json_t *keys = s_load (path, message, size);
    if (!keys)
        return HTTP_KEYS_IO;
    if (s_find (keys, name, NULL)) {
        snprintf (message, size, "an API key named '%s' exists", name);
        json_decref (keys);
        return HTTP_KEYS_EXISTS;
    }
    unsigned char random[32];
    randombytes_buf (random, sizeof random);
    memcpy (key, HTTP_KEY_PREFIX, 4);
    sodium_bin2hex (key + 4, HTTP_KEY_SIZE - 4, random, sizeof random);
    char hash[65];
    s_hash (key, hash);
    json_array_append_new (keys, json_pack ("{s:s, s:s, s:s, s:b, s:I}", "name", name,
                                            "role", role, "hash", hash, "enabled", 1,
                                            "created", (json_int_t)time (NULL)));
    int rc = s_save (path, keys, message, size);
    json_decref (keys);
    return rc == 0 ? HTTP_KEYS_OK : HTTP_KEYS_IO;
}

json_t *
http_keys_list (const char *path, char *message, size_t size)
{
    json_t *keys = s_load (path, message, size);
    size_t i;
    json_t *entry;
    json_array_foreach (keys, i, entry) json_object_del (entry, "hash");
    return keys;
}

//  Change entry `name` (enable, disable, delete) and save
static http_keys_code_t
s_change (const char *path, const char *name, int enabled, char *message, size_t size)
{
    json_t *keys = s_load (path, message, size);
    if (!keys)
        return HTTP_KEYS_IO;
    size_t index = 0;
    json_t *entry = s_find (keys, name, &index);
    if (!entry) {
        snprintf (message, size, "no API key named '%s'", name ? name : "");
        json_decref (keys);
        return HTTP_KEYS_UNKNOWN;
    }
    if (enabled < 0)
        json_array_remove (keys, index);
    else
        json_object_set_new (entry, "enabled", json_boolean (enabled));
    int rc = s_save (path, keys, message, size);
    json_decref (keys);
    return rc == 0 ? HTTP_KEYS_OK : HTTP_KEYS_IO;
}

http_keys_code_t
http_keys_enable (const char *path, const char *name, bool enabled, char *message,
                  size_t size)
{
    return s_change (path, name, enabled ? 1 : 0, message, size);
}

http_keys_code_t
http_keys_delete (const char *path, const char *name, char *message, size_t size)
{
    return s_change (path, name, -1, message, size);
}
