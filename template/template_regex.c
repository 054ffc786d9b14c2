/*  template_regex: Python-style regular expressions on PCRE2. See
    template_regex.h. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "template/template_regex.h"

#include <assert.h>
#include <ctype.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MATCH_LIMIT 1000000
#define DEPTH_LIMIT 10000
#define MAX_RESULT  (1024 * 1024)

struct _template_regex_t {
    pcre2_code *code;
    pcre2_match_context *context;
    char *pattern;
    int flags;
    uint32_t groups;
};

struct _template_regex_cache_t {
    template_regex_t *items[TEMPLATE_REGEX_CACHE];
    size_t next;
};

static void
s_error (char **error, const char *format, ...)
{
    if (!error || *error)
        return;
    char text[512];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    *error = strdup (text);
}

//  Python's spelling to PCRE2's: \Z (absolute end) is \z.
static char *
s_translate (const char *pattern)
{
    char *out = strdup (pattern);
    if (!out)
        return NULL;
    bool in_class = false;
    for (char *p = out; *p; p++) {
        if (*p == '\\' && p[1]) {
            if (!in_class && p[1] == 'Z')
                p[1] = 'z';
            p++;
        } else if (*p == '[' && !in_class)
            in_class = true;
        else if (*p == ']' && in_class)
            in_class = false;
    }
    return out;
}

template_regex_t *
template_regex_new (const char *pattern, int flags, char **error)
{
    assert (pattern);
    template_regex_t *self = (template_regex_t *)calloc (1, sizeof *self);
    char *source = s_translate (pattern);
    if (!self || !source) {
        free (self);
        free (source);
        s_error (error, "out of memory");
        return NULL;
    }
    uint32_t options = PCRE2_UTF | PCRE2_UCP;
    if (flags & TEMPLATE_REGEX_IGNORECASE)
        options |= PCRE2_CASELESS;
    if (flags & TEMPLATE_REGEX_DOTALL)
        options |= PCRE2_DOTALL;
    if (flags & TEMPLATE_REGEX_MULTILINE)
        options |= PCRE2_MULTILINE;
    int code;
    PCRE2_SIZE offset;
    self->code = pcre2_compile ((PCRE2_SPTR)source, PCRE2_ZERO_TERMINATED, options, &code,
                                &offset, NULL);
    free (source);
    if (!self->code) {
        PCRE2_UCHAR why[256];
        pcre2_get_error_message (code, why, sizeof why);
        s_error (error, "invalid regular expression '%.200s' at offset %zu: %s", pattern,
                 (size_t)offset, (char *)why);
        free (self);
        return NULL;
    }
    self->context = pcre2_match_context_create (NULL);
    self->pattern = strdup (pattern);
    if (!self->context || !self->pattern) {
        template_regex_destroy (&self);
        s_error (error, "out of memory");
        return NULL;
    }
    pcre2_set_match_limit (self->context, MATCH_LIMIT);
    pcre2_set_depth_limit (self->context, DEPTH_LIMIT);
    pcre2_pattern_info (self->code, PCRE2_INFO_CAPTURECOUNT, &self->groups);
    self->flags = flags;
    return self;
}

void
template_regex_destroy (template_regex_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        template_regex_t *self = *self_p;
        pcre2_code_free (self->code);
        pcre2_match_context_free (self->context);
        free (self->pattern);
        free (self);
        *self_p = NULL;
    }
}

//  One pcre2_match from `offset`. >0 matched, 0 none, -1 error.
static int
s_match (template_regex_t *self, pcre2_match_data *data, const char *subject,
         size_t length, size_t offset, uint32_t options, char **error)
{
    int rc = pcre2_match (self->code, (PCRE2_SPTR)subject, length, offset, options, data,
                          self->context);
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    if (rc < 0) {
        PCRE2_UCHAR why[256];
        pcre2_get_error_message (rc, why, sizeof why);
        s_error (error, "regular expression '%.200s': %s", self->pattern, (char *)why);
        return -1;
    }
    return rc;
}

//  Group `index` of the last match as a new string, or null.
static json_t *
s_group (pcre2_match_data *data, const char *subject, uint32_t index)
{
    PCRE2_SIZE *ovector = pcre2_get_ovector_pointer (data);
    if (index >= pcre2_get_ovector_count (data) || ovector[2 * index] == PCRE2_UNSET)
        return json_null ();
    return json_stringn (subject + ovector[2 * index],
                         ovector[2 * index + 1] - ovector[2 * index]);
}

int
template_regex_find (template_regex_t *self, const char *subject,
                     template_regex_mode_t mode, json_t **groups, char **error)
{
    assert (self && subject);
    pcre2_match_data *data = pcre2_match_data_create_from_pattern (self->code, NULL);
    if (!data) {
        s_error (error, "out of memory");
        return -1;
    }
    uint32_t options = mode == TEMPLATE_REGEX_MATCH ? PCRE2_ANCHORED
                       : mode == TEMPLATE_REGEX_FULLMATCH
                           ? PCRE2_ANCHORED | PCRE2_ENDANCHORED
                           : 0;
    int rc = s_match (self, data, subject, strlen (subject), 0, options, error);
    if (rc > 0 && groups) {
        *groups = json_array ();
        for (uint32_t i = 0; i <= self->groups; i++)
            json_array_append_new (*groups, s_group (data, subject, i));
    }
    pcre2_match_data_free (data);
    return rc > 0 ? 1 : rc;
}

typedef struct {
    char *data;
    size_t used, cap;
} s_buf_t;

static int
s_add (s_buf_t *b, const char *text, size_t n, char **error)
{
    if (b->used + n + 1 > MAX_RESULT) {
        s_error (error, "regular expression result longer than %d bytes", MAX_RESULT);
        return -1;
    }
    if (b->used + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        while (cap < b->used + n + 1)
            cap *= 2;
        char *grown = (char *)realloc (b->data, cap);
        if (!grown) {
            s_error (error, "out of memory");
            return -1;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy (b->data + b->used, text, n);
    b->used += n;
    b->data[b->used] = 0;
    return 0;
}

//  The group a \g<...> names: its number, or -1.
static int
s_group_number (template_regex_t *self, const char *name, size_t n)
{
    char key[64];
    if (n == 0 || n >= sizeof key)
        return -1;
    memcpy (key, name, n);
    key[n] = 0;
    char *end;
    long number = strtol (key, &end, 10);
    if (*end == 0)
        return number >= 0 && number <= (long)self->groups ? (int)number : -1;
    int found = pcre2_substring_number_from_name (self->code, (PCRE2_SPTR)key);
    return found > 0 ? found : -1;
}

//  Append `replacement` for the current match (Python's template syntax).
static int
s_expand (template_regex_t *self, pcre2_match_data *data, const char *subject,
          const char *replacement, s_buf_t *b, char **error)
{
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer (data);
    for (const char *p = replacement; *p; p++) {
        int group = -1;
        if (*p != '\\' || !p[1]) {
            if (s_add (b, p, 1, error))
                return -1;
            continue;
        }
        p++;
        if (isdigit ((unsigned char)*p)) {
            group = *p - '0';
            if (isdigit ((unsigned char)p[1]) &&
                group * 10 + (p[1] - '0') <= (int)self->groups)
                group = group * 10 + (*++p - '0');
        } else if (*p == 'g' && p[1] == '<' && strchr (p, '>')) {
            const char *close = strchr (p, '>');
            group = s_group_number (self, p + 2, (size_t)(close - p - 2));
            if (group < 0) {
                s_error (error, "regular expression replacement: unknown group '%.*s'",
                         (int)(close - p - 2), p + 2);
                return -1;
            }
            p = close;
        } else {
            const char *escapes = "n\nt\tr\rf\fv\va\a\\\\";
            const char *e = strchr (escapes, *p);
            char ch[2] = {'\\', *p};
            int rc = e && ((e - escapes) % 2) == 0 ? s_add (b, e + 1, 1, error)
                                                   : s_add (b, ch, 2, error);
            if (rc)
                return -1;
            continue;
        }
        if (group > (int)self->groups) {
            s_error (error, "regular expression replacement: invalid group reference %d",
                     group);
            return -1;
        }
        if (ov[2 * group] != PCRE2_UNSET &&
            s_add (b, subject + ov[2 * group], ov[2 * group + 1] - ov[2 * group], error))
            return -1;
    }
    return 0;
}

char *
template_regex_sub (template_regex_t *self, const char *subject, const char *replacement,
                    size_t count, char **error)
{
    assert (self && subject && replacement);
    pcre2_match_data *data = pcre2_match_data_create_from_pattern (self->code, NULL);
    s_buf_t b = {NULL, 0, 0};
    if (!data || s_add (&b, "", 0, error)) {
        pcre2_match_data_free (data);
        free (b.data);
        return NULL;
    }
    size_t length = strlen (subject), offset = 0, done = 0;
    uint32_t options = 0;
    int rc = 0;
    while (offset <= length && (count == 0 || done < count)) {
        rc = s_match (self, data, subject, length, offset, options, error);
        if (rc <= 0)
            break;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer (data);
        if (s_add (&b, subject + offset, ov[0] - offset, error) ||
            s_expand (self, data, subject, replacement, &b, error)) {
            rc = -1;
            break;
        }
        done++;
        //  after an empty match, the next may not be empty at the same place
        options = ov[1] == ov[0] ? PCRE2_NOTEMPTY_ATSTART : 0;
        offset = ov[1];
    }
    if (rc >= 0 && s_add (&b, subject + offset, length - offset, error))
        rc = -1;
    pcre2_match_data_free (data);
    if (rc < 0) {
        free (b.data);
        return NULL;
    }
    return b.data;
}

json_t *
template_regex_findall (template_regex_t *self, const char *subject, char **error)
{
    assert (self && subject);
    pcre2_match_data *data = pcre2_match_data_create_from_pattern (self->code, NULL);
    json_t *list = json_array ();
    size_t length = strlen (subject), offset = 0;
    uint32_t options = 0;
    int rc = data && list ? 1 : -1;
    while (rc > 0 && offset <= length) {
        rc = s_match (self, data, subject, length, offset, options, error);
        if (rc <= 0)
            break;
        json_t *item;
        if (self->groups == 0)
            item = s_group (data, subject, 0);
        else if (self->groups == 1)
            item = s_group (data, subject, 1);
        else {
            item = json_array ();
            for (uint32_t i = 1; i <= self->groups; i++)
                json_array_append_new (item, s_group (data, subject, i));
        }
        if (json_is_null (item)) {
            json_decref (item);
            item = json_string ("");
        }
        json_array_append_new (list, item);
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer (data);
        options = ov[1] == ov[0] ? PCRE2_NOTEMPTY_ATSTART : 0;
        offset = ov[1];
    }
    pcre2_match_data_free (data);
    if (rc < 0) {
        s_error (error, "out of memory");
        json_decref (list);
        return NULL;
    }
    return list;
}

template_regex_cache_t *
template_regex_cache_new (void)
{
    return (template_regex_cache_t *)calloc (1, sizeof (template_regex_cache_t));
}

void
template_regex_cache_destroy (template_regex_cache_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        for (size_t i = 0; i < TEMPLATE_REGEX_CACHE; i++)
            template_regex_destroy (&(*self_p)->items[i]);
        free (*self_p);
        *self_p = NULL;
    }
}

template_regex_t *
template_regex_cache_get (template_regex_cache_t *self, const char *pattern, int flags,
                          char **error)
{
    assert (self && pattern);
    for (size_t i = 0; i < TEMPLATE_REGEX_CACHE; i++) {
        template_regex_t *item = self->items[i];
        if (item && item->flags == flags && strcmp (item->pattern, pattern) == 0)
            return item;
    }
    template_regex_t *compiled = template_regex_new (pattern, flags, error);
    if (!compiled)
        return NULL;
    template_regex_destroy (&self->items[self->next]);
    self->items[self->next] = compiled;
    self->next = (self->next + 1) % TEMPLATE_REGEX_CACHE;
    return compiled;
}

int
template_regex_test (const char *pattern, int flags, template_regex_mode_t mode,
                     const char *subject, char **error)
{
    template_regex_t *regex = template_regex_new (pattern, flags, error);
    if (!regex)
        return -1;
    int rc = template_regex_find (regex, subject, mode, NULL, error);
    template_regex_destroy (&regex);
    return rc;
}
