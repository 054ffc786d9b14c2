/*  rules_template: the templates of rule action parameters, on attune's
    Jinja engine (template/template.h: Jinja's expressions, {% if %},
    {% for %}, {% set %}, Jinja's and StackStorm's filters and tests,
    sandboxed and bounded).

        "{{ trigger.payload.host }}"                  the value, type kept
        "deploy {{ trigger.payload.app }} now"        interpolated as text
        "{{ trigger.payload.n | default(3) }}"        a fallback when undefined
        "{% for h in trigger.hosts %}{{ h }} {% endfor %}"
        "{{ st2kv.system.token | decrypt_kv }}"       (rules_kv.h resolves it)

    A value that is exactly one expression keeps the value's type (number,
    bool, map, list); inside text, a value is written as Jinja writes it
    (Python's str(): True, None, ['a', 1]; use | to_json_string or | json
    for JSON). A value that is not defined is an error when used (unless
    | default(...) or `is defined` asks), as in StackStorm's rendering of
    parameters. In the context, "trigger.X" also finds "trigger.payload.X"
    (StackStorm's spelling). Errors read "template '<where>' line L column
    C: <what>", where = the JSON path of the failing string.

    Shell commands (rules_template_render_shell: the `cmd` of a shell
    action) are rendered differently: every inserted value becomes exactly
    one word with its bytes unchanged for the shell, whatever it holds
    (blanks, quotes, ;, $(...), backquotes, newlines, backslashes,
    nothing). The rendering follows the shell's quoting of the text
    written so far up to each value:
        echo {{ x }}        ->  echo 'VALUE'
        echo "a {{ x }}"    ->  echo "a "'VALUE'""   (closes, reopens)
        echo 'a {{ x }}'    ->  echo 'a VALUE'
    with every ' of VALUE written '\'' (close, quoted ', reopen). Types are
    not kept: a lone expression renders as text too. A value where that
    promise cannot be kept is an error, never rendered: inside a #
    comment; after a backquote, a here-document (<<), (( or [[ (bash
    arithmetic), ${...} other than ${NAME}, $((, $[, $'...' or $"...";
    after $( inside "..."; right after an unquoted or double-quoted
    backslash or '$'. What the command then does with its word (eval,
    sh -c, find -exec) is the author's. Each {{ expression }} is full
    Jinja, and {% if %}, {% for %}, {% set %} are allowed: they write the
    author's own text, which is followed as it is written (a loop's text
    each turn), and only {{ }} outputs are quoted.

    The action's own defaults (rules_template_render_shell_own, StackStorm's
    `args` idiom: `cmd: scp {{args}} ...` with `args: "-o x{% if v %}
    -v{% endif %}"`): `own` maps the names of parameters whose value is the
    action's default (not given by a caller, a rule or the api) to that
    default's text. `{{ name }}`, a bare name of `own` (not a {% set %} or
    loop variable) standing where a word can start (outside quotes, not
    after \ or $), inserts the default rendered as a shell command itself
    (so what it inserts is quoted at its own level), as shell text, not
    re-quoted; anywhere else, and any other value, is one quoted word.
*/
#ifndef RULES_TEMPLATE_H_INCLUDED
#define RULES_TEMPLATE_H_INCLUDED

#include <stddef.h>
#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Render one value: strings are templates, objects and arrays are rendered
//  recursively, other values are copied. Returns a new value (caller owns
//  it), or NULL with `message` as "<where>: <reason>" (where = the JSON path
//  of the failing string, e.g. "parameters.message").
json_t *rules_template_render (const json_t *value, const json_t *context,
                               const char *where, char *message, size_t message_size);

//  Render `text` as a POSIX shell command (see above): each inserted value
//  one word. Returns a new JSON string (caller owns it), or NULL with
//  `message` as for rules_template_render.
json_t *rules_template_render_shell (const char *text, const json_t *context,
                                     const char *where, char *message,
                                     size_t message_size);

//  rules_template_render_shell where `own` (an object, borrowed; NULL as
//  {}) maps parameter names to the action's own default text: see above.
json_t *rules_template_render_shell_own (const char *text, const json_t *context,
                                         const json_t *own, const char *where,
                                         char *message, size_t message_size);

//  `value` quoted for the shell as one word: '...' with ' written '\''.
//  Caller frees the result; NULL when out of memory.
char *rules_template_shell_quote (const char *value);

//  Check a template's syntax without rendering (at rule load). 0, or -1 with
//  `message` set.
int rules_template_check (const json_t *value, const char *where, char *message,
                          size_t message_size);

//  Resolve a dotted path ("trigger.payload.a[0].b") in a context. Borrowed
//  reference, NULL when missing. Applies the trigger.X alias.
const json_t *rules_template_lookup (const json_t *context, const char *path);

#ifdef __cplusplus
}
#endif

#endif
