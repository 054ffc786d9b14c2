/*  store_crypto: the datastore's secret key (store_crypto.h).
*/
#include "store/store_crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_MAGIC   "attune-datastore-key 1"
#define S_VARIANT sodium_base64_VARIANT_URLSAFE_NO_PADDING

struct _store_crypto_t {
    uint32_t id;
    unsigned char key[crypto_secretbox_KEYBYTES];
};

int
store_crypto_init (void)
{
    return sodium_init () < 0 ? -1 : 0;
}

static store_crypto_t *
s_new (uint32_t id)
{
    store_crypto_t *self = (store_crypto_t *)calloc (1, sizeof *self);
    if (self)
        self->id = id;
    return self;
}

store_crypto_t *
store_crypto_load (const char *path, char *message, size_t size)
{
    FILE *file = fopen (path, "r");
    if (!file) {
        int saved = errno;
        snprintf (message, size, "%s: cannot read the key file (%s)", path,
                  strerror (saved));
        errno = saved;
        return NULL;
    }
    char line[256] = "";
    bool read = fgets (line, sizeof line, file) != NULL;
    fclose (file);
    unsigned id = 0;
    char hex[80] = "";
    store_crypto_t *self = NULL;
    if (read && strncmp (line, S_MAGIC " ", strlen (S_MAGIC) + 1) == 0 &&
        sscanf (line + strlen (S_MAGIC), " %u %79s", &id, hex) == 2 && id > 0 &&
        strlen (hex) == 2 * crypto_secretbox_KEYBYTES && (self = s_new (id))) {
        size_t bin = 0;
        if (sodium_hex2bin (self->key, sizeof self->key, hex, strlen (hex), NULL, &bin,
                            NULL) != 0 ||
            bin != sizeof self->key)
            store_crypto_destroy (&self);
    }
    sodium_memzero (line, sizeof line);
    sodium_memzero (hex, sizeof hex);
    if (!self) {
        snprintf (message, size,
                  "%s: not a datastore key file (expected one line '" S_MAGIC
                  " <id> <64 hex digits>')",
                  path);
        errno = EINVAL;
    }
    return self;
}

//  Write `text` to a new file `path` (0600), fsync'd. 0 or -1 (errno).
static int
s_write_new (const char *path, const char *text)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd == -1)
        return -1;
    size_t length = strlen (text);
    bool ok = write (fd, text, length) == (ssize_t)length && fsync (fd) == 0;
    int saved = errno;
    close (fd);
    if (!ok) {
        unlink (path);
        errno = saved;
        return -1;
    }
    return 0;
}

store_crypto_t *
store_crypto_create (const char *path, uint32_t id, char *message, size_t size)
{
    store_crypto_t *self = s_new (id);
    if (!self) {
        snprintf (message, size, "out of memory");
        return NULL;
    }
    crypto_secretbox_keygen (self->key);
    char hex[2 * crypto_secretbox_KEYBYTES + 1];
    sodium_bin2hex (hex, sizeof hex, self->key, sizeof self->key);
    char text[256];
    snprintf (text, sizeof text, S_MAGIC " %u %s\n", (unsigned)id, hex);
    int rc = s_write_new (path, text);
    int saved = errno;
    sodium_memzero (hex, sizeof hex);
    sodium_memzero (text, sizeof text);
    if (rc != 0) {
        snprintf (message, size, "%s: cannot create the key file (%s)", path,
                  strerror (saved));
        store_crypto_destroy (&self);
    }
    return self;
}

void
store_crypto_destroy (store_crypto_t **self_p)
{
    if (self_p && *self_p) {
        sodium_memzero ((*self_p)->key, sizeof (*self_p)->key);
        free (*self_p);
        *self_p = NULL;
    }
}

uint32_t
store_crypto_id (const store_crypto_t *self)
{
    return self->id;
}

char *
store_crypto_seal (const store_crypto_t *self, const char *clear, size_t size)
{
    size_t boxed = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + size;
    unsigned char *box = (unsigned char *)malloc (boxed);
    size_t text_size = sodium_base64_encoded_len (boxed, S_VARIANT);
    char *text = (char *)malloc (text_size);
    if (!box || !text) {
        free (box);
        free (text);
        return NULL;
    }
    randombytes_buf (box, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy (box + crypto_secretbox_NONCEBYTES,
                           (const unsigned char *)clear, size, box, self->key);
    sodium_bin2base64 (text, text_size, box, boxed, S_VARIANT);
    free (box);
    return text;
}

char *
store_crypto_unseal (const store_crypto_t *self, const char *sealed, size_t *size)
{
    size_t length = strlen (sealed);
    size_t max = length / 4 * 3 + 3;
    unsigned char *box = (unsigned char *)malloc (max);
    size_t boxed = 0;
    if (!box ||
        sodium_base642bin (box, max, sealed, length, NULL, &boxed, NULL, S_VARIANT) !=
            0 ||
        boxed < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
        free (box);
        return NULL;
    }
    size_t clear_size = boxed - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
    char *clear = (char *)malloc (clear_size + 1);
    if (!clear || crypto_secretbox_open_easy (
                      (unsigned char *)clear, box + crypto_secretbox_NONCEBYTES,
                      boxed - crypto_secretbox_NONCEBYTES, box, self->key) != 0) {
        free (clear);
        free (box);
        return NULL;
    }
    free (box);
    clear[clear_size] = 0;
    if (size)
        *size = clear_size;
    return clear;
}

void
store_crypto_free (char *clear)
{
    if (clear) {
        sodium_memzero (clear, strlen (clear));
        free (clear);
    }
}
