/*  template_regex: regular expressions with Python's syntax and semantics
    (re.match, re.search, re.fullmatch, re.sub, re.findall), on PCRE2.

    Patterns are UTF-8 with Unicode classes (\d, \w match as Python 3's
    str patterns do); Python's \Z (the very end) is PCRE2's \z. A match
    is bounded (PCRE2 match and depth limits): a catastrophic pattern is
    an error, not a hang. Replacements take Python's \1, \g<1>, \g<name>,
    \n, \t and \\.
*/
#ifndef TEMPLATE_REGEX_H_INCLUDED
#define TEMPLATE_REGEX_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _template_regex_t template_regex_t;
typedef struct _template_regex_cache_t template_regex_cache_t;

#define TEMPLATE_REGEX_IGNORECASE 1 //  re.IGNORECASE
#define TEMPLATE_REGEX_DOTALL     2 //  re.DOTALL
#define TEMPLATE_REGEX_MULTILINE  4 //  re.MULTILINE
#define TEMPLATE_REGEX_CACHE      16

typedef enum {
    TEMPLATE_REGEX_MATCH,    //  anchored at the start (re.match)
    TEMPLATE_REGEX_SEARCH,   //  anywhere (re.search)
    TEMPLATE_REGEX_FULLMATCH //  the whole subject (re.fullmatch)
} template_regex_mode_t;

//  Compile `pattern`. NULL with *error set (caller frees) when invalid.
template_regex_t *template_regex_new (const char *pattern, int flags, char **error);
void template_regex_destroy (template_regex_t **self_p);

//  Find in `subject`. 1 found, 0 not, -1 with *error (limits). With
//  `groups`, a new list: group 0, 1, ... (null for a group that did not
//  take part).
int template_regex_find (template_regex_t *self, const char *subject,
                         template_regex_mode_t mode, json_t **groups, char **error);

//  re.sub: every match (at most `count`, 0 = all) replaced. Caller frees,
//  or NULL with *error.
char *template_regex_sub (template_regex_t *self, const char *subject,
                          const char *replacement, size_t count, char **error);

//  re.findall: a list of the whole matches (no group), of group 1 (one
//  group) or of lists of the groups. NULL with *error.
json_t *template_regex_findall (template_regex_t *self, const char *subject,
                                char **error);

//  A bounded cache of compiled patterns (least recently compiled goes).
template_regex_cache_t *template_regex_cache_new (void);
void template_regex_cache_destroy (template_regex_cache_t **self_p);
//  The compiled pattern, borrowed from the cache; NULL with *error.
template_regex_t *template_regex_cache_get (template_regex_cache_t *self,
                                            const char *pattern, int flags, char **error);

//  One-shot: does `pattern` find `subject` in `mode`? 1, 0, -1 with *error.
int template_regex_test (const char *pattern, int flags, template_regex_mode_t mode,
                         const char *subject, char **error);

#ifdef __cplusplus
}
#endif

#endif
