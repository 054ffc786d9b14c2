/*  rules_criteria: a rule's criteria, compiled once, evaluated per event.

    StackStorm's form: an object of `path: {type: OPERATOR, pattern: VALUE}`,
    all of which must hold (AND):

        criteria:
          trigger.payload.status:   {type: equals, pattern: failed}
          trigger.payload.host:     {type: matchregex, pattern: "^web[0-9]+$"}

    Paths resolve in the evaluation context ({"trigger": {"type", "payload"},
    ...}); "trigger.X" also finds "trigger.payload.X". Operators:

      equals nequals iequals           JSON equality (numbers by value),
                                       iequals for strings, any case
      contains icontains ncontains     substring of a string, item of a list,
      nicontains                       key of an object
      startswith istartswith endswith iendswith
      lessthan greaterthan             numbers (numeric strings convert)
      exists nexists                   the path resolves / does not
      inside ninside                   the value is in the pattern (list/string)
      matchregex                       Python regex (PCRE2, template_regex.h)
                                       from the start, . matches newlines
                                       (re.match with re.DOTALL)
      regex iregex                     Python regex anywhere (re.search);
                                       iregex ignores case, as StackStorm's
      search                           a list (an object: a list of one) whose
                                       items match child criteria on item.PATH:
                                       `condition: any` (some item matches all
                                       of them), `all` (every item matches all),
                                       `any2any` (some item matches one),
                                       `all2any` (every item matches one)
      matchwildcard                    shell wildcard (fnmatch)
      timediff_lt timediff_gt          now − value (an ISO 8601 time or epoch
                                       seconds) is under / over pattern seconds

    StackStorm's short names are taken too (eq, neq, ieq, incontains, in,
    nin, lt, gt, td_lt, td_gt). From a '#' on, a key is a comment, so one
    path can carry several criteria (`trigger.n#1`, `trigger.n#2`).

    A value that is missing or of the wrong type makes an operator false
    (nequals and nexists: true), never an error.

    A string pattern with {{ }} or {% %} is a template (rules_template.h),
    checked at load and rendered per event with the evaluation context, as
    StackStorm renders criteria patterns:

          trigger.payload.owner:  {type: equals, pattern: "{{ trigger.payload.author }}"}
          trigger.payload.branch: {type: equals, pattern: "{{ st2kv.system.branch }}"}

    A lone expression keeps its type (a number for lessthan, a list for
    inside). A pattern that fails to render, or renders unfit for its
    operator, does not match (a warning is logged).
*/
#ifndef RULES_CRITERIA_H_INCLUDED
#define RULES_CRITERIA_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _rules_criteria_t rules_criteria_t;

//  Compile criteria (NULL or an empty object: always true). NULL on error,
//  with `field` set to the offending criteria key (for the YAML line) and
//  `message` to "criteria.<key>: <reason>", e.g.
//  `criteria.trigger.payload.n: unknown operator "equal"`.
rules_criteria_t *rules_criteria_new (const json_t *criteria, char *field,
                                      size_t field_size, char *message,
                                      size_t message_size);
void rules_criteria_destroy (rules_criteria_t **self_p);

//  True when a templated pattern names st2kv (the caller adds the keys to
//  the context, rules_kv.h).
bool rules_criteria_uses_kv (const rules_criteria_t *self);

//  The payload keys the criteria read (paths trigger.payload.K... and
//  trigger.K...), so that an event's payload needs a JSON form for those
//  keys only: `count` of them. NULL when the criteria may read more (a
//  templated pattern, search, the payload as a whole); none for no criteria.
const char *const *rules_criteria_payload_keys (const rules_criteria_t *self,
                                                size_t *count);

//  True when every criterion holds for `context` at time `now_usec`.
bool rules_criteria_match (const rules_criteria_t *self, const json_t *context,
                           int64_t now_usec);

//  Each criterion with its outcome for `context` (the rule tester):
//  [{path, type, pattern, value (absent when missing), matched}]; *matched
//  says whether all hold. New reference; NULL when out of memory.
json_t *rules_criteria_explain (const rules_criteria_t *self, const json_t *context,
                                int64_t now_usec, bool *matched);

//  Evaluate one operator (for tests and tools): op against value and
//  pattern; `value` NULL means missing. -1 for an unknown operator or a bad
//  pattern.
int rules_criteria_test (const char *op, const json_t *value, const json_t *pattern,
                         int64_t now_usec);

//  Parse an ISO 8601 time ("2026-11-22T15:00:00Z", "...:00.250+01:00",
//  "2026-11-22 15:00:00") to microseconds since the epoch. 0 or -1.
int rules_parse_time (const char *text, int64_t *usec);

#ifdef __cplusplus
}
#endif

#endif
