/*  template: attune's one Jinja engine (rule action parameters, action
    parameter defaults, criteria patterns, workflows).

    Syntax is Jinja2's, as StackStorm configures it (trim_blocks and
    lstrip_blocks on, undefined values are errors when used):

        {{ expr }}                 output
        {% if c %}..{% elif c %}..{% else %}..{% endif %}
        {% for x in xs %}..{% else %}..{% endfor %}   (also "for k, v in",
                                   "for x in xs if c"; loop.index, index0,
                                   revindex, revindex0, first, last, length)
        {% set name = expr %}
        {# comment #}              {{- -}} {%- -%} trim whitespace, {%+ keeps it

    Expressions: literals (42, 4.2, 'str', "str", true/True, false, none/None,
    [lists], (tuples), {'dicts': 1}), names, a.b, a['b'], a[0], a[-1],
    a[1:3], + - * / // % **, ~ (concatenation as text), == != < > <= >=,
    in, not in, and, or, not, `x if c else y`, filters `x | f(args, k=v)`,
    tests `x is defined`, `x is not divisibleby 3`, range(n[, m[, step]]),
    and the dict methods .items() .keys() .values() .get(k[, d]).

    Sandbox: a template reads only its context (JSON data); there is no
    attribute beyond a JSON object's keys, no call but the functions below
    and the caller's hook, no import, no macro, no include. Bounds: see TEMPLATE_MAX_* below; exceeding one is
    an error, never a truncated result.

    A template that is exactly one {{ expression }} (blanks around it
    allowed) renders as the expression's value with its JSON type; any
    other renders as text where a value is written as Python's str() would
    (True, None, ['a', 1], {'k': 'v'}), as StackStorm's Jinja does.

    Functions (both languages): range(), and json(s), zip(a, b, ...,
    pad=x), len(x), str(x), int(x), float(x), bool(x), concat(s, ...),
    join(list, sep), dict(pairs), random([a, b]), contains(c, v),
    containsKey(d, k), containsValue(d, v), keys(d), values(d), items(d),
    get(d, k[, default]), select(list, expr), where(list, expr) (expr per
    item, $ the item). Any other function (Orquesta's ctx(), result(),
    item(), task_status(), succeeded() ...) is the caller's: see
    template_hooks_t.call.

    YAQL (with TEMPLATE_YAQL): a text may also hold <% expr %> blocks, in
    YAQL's syntax as Orquesta uses it, evaluated by the same evaluator
    under the same bounds: $ (the context; the item inside select/where),
    $.name, ctx(), ctx(name) (a bare word is a string: ctx(foo) is
    ctx('foo')), ctx().name, a.b, a[0], a['k'], a[k, default], method
    calls (x.len(), xs.select($.name), d.containsKey('k')), literals
    (1, 2.5, 'str', "str", `str`, true, false, null, [1, 2], {a => 1},
    list(1, 2), dict(a => 1)), comparisons = (equality; `==` is an
    error) != < > <= >= in, and, or, not, + - * / (floor division of
    integers) mod, + on strings, lists (concatenation) and dicts (merge),
    keyword arguments `f(x, name => v)`. Precedence, loosest first: or,
    and, not, comparisons (never chained), + -, * / mod, unary - +,
    postfix. A top-level `a, b` is a list. Not supported: lambdas (->),
    ?., =~, and YAQL's other library functions.

    Errors are "template 'NAME' line L column C: WHAT"; in a <% %> block
    WHAT starts with "yaql: ".
*/
#ifndef TEMPLATE_H_INCLUDED
#define TEMPLATE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TEMPLATE_MAX_TEXT       (256 * 1024)  //  template source bytes
#define TEMPLATE_MAX_OUTPUT     (1024 * 1024) //  rendered bytes, any string built
#define TEMPLATE_MAX_ITERATIONS 100000        //  loop turns and range items, per render
#define TEMPLATE_MAX_DEPTH      64            //  nesting: blocks, expressions, data

//  Compile flags.
#define TEMPLATE_YAQL 1u //  also <% yaql %> blocks (Orquesta's strings)

typedef struct _template_t template_t;

//  What the caller supplies. decrypt_kv (StackStorm's filter): `value` is
//  the encrypted text; return a new reference, or NULL with *error set to
//  a malloc'd reason. With no hook, decrypt_kv is an error.
//  call: a call of a function the engine itself does not have (Orquesta's
//  ctx(), result(), task_status() ...), with its positional arguments
//  (borrowed) and, when the call has keyword arguments (YAQL's
//  `name => v`, Jinja's name=v), one more: an object of them; return a
//  new reference, or NULL with *error set to a malloc'd reason. With no
//  hook, such a call is an error.
typedef struct {
    json_t *(*decrypt_kv) (void *arg, const json_t *value, char **error);
    void *arg;
    json_t *(*call) (void *arg, const char *function, json_t *const *args, size_t count,
                     char **error);
} template_hooks_t;

//  Parse `text`; `name` names it in errors. Returns a template (caller
//  destroys it), or NULL with *error set (caller frees it).
template_t *template_compile (const char *name, const char *text, char **error);

//  template_compile with `flags` (TEMPLATE_YAQL: <% %> blocks too; a text
//  that is exactly one <% expr %> renders as the typed value, as one
//  {{ expr }} does).
template_t *template_compile_with (const char *name, const char *text, unsigned flags,
                                   char **error);

//  Render with `context` (a JSON object, borrowed; NULL is {}). Returns a
//  new reference: the typed value when the template is one expression,
//  else a string. NULL with *error set (caller frees) on failure.
json_t *template_render (template_t *self, const json_t *context,
                         const template_hooks_t *hooks, char **error);

//  Where a render's output goes piece by piece instead of into one string
//  (template_render_emit): `text`, the author's text between tags (after
//  whitespace control), and `value`, the value of each {{ expression }}
//  (borrowed), with `name` set when the expression is a bare name read
//  from the context (not a {% set %} or loop variable), else NULL. Each
//  returns 0, or -1 with *error set to a malloc'd reason: the render then
//  fails with it at that piece's line and column.
typedef struct {
    int (*text) (void *arg, const char *text, size_t n, char **error);
    int (*value) (void *arg, const json_t *value, const char *name, char **error);
    void *arg;
} template_emit_t;

//  Render into `emit` (statements run as in template_render; a lone
//  expression is emitted as a value too). 0, or -1 with *error set
//  (caller frees).
int template_render_emit (template_t *self, const json_t *context,
                          const template_hooks_t *hooks, const template_emit_t *emit,
                          char **error);

//  Destroy a template; safe twice; clears the caller's pointer.
void template_destroy (template_t **self_p);

//  True when the template is exactly one {{ expression }}.
bool template_is_expression (const template_t *self);

//  True when the template has {% %} statements.
bool template_has_statements (const template_t *self);

//  Compile and render in one call; a string result (any value written as
//  text). Caller frees the result, or *error on NULL.
char *template_render_text (const char *name, const char *text, const json_t *context,
                            const template_hooks_t *hooks, char **error);

//  Evaluate the text of one expression (what stands between {{ and }}).
//  New reference, or NULL with *error set.
json_t *template_evaluate (const char *name, const char *expression,
                           const json_t *context, const template_hooks_t *hooks,
                           char **error);

//  Evaluate one YAQL expression (what stands between <% and %>). New
//  reference, or NULL with *error set.
json_t *template_evaluate_yaql (const char *name, const char *expression,
                                const json_t *context, const template_hooks_t *hooks,
                                char **error);

//  True when `text` holds a tag ({{, {%, {# and, with TEMPLATE_YAQL, <%).
bool template_has_tags (const char *text, unsigned flags);

//  Render every string inside `value` (objects and arrays, recursively,
//  at most TEMPLATE_MAX_DEPTH deep; with TEMPLATE_YAQL object keys too, as
//  Orquesta does); a string without tags is copied. Each string is named
//  NAME.key[i] in errors. Returns a new value (caller owns it), or NULL
//  with *error set (caller frees).
json_t *template_render_value (const char *name, const json_t *value, unsigned flags,
                               const json_t *context, const template_hooks_t *hooks,
                               char **error);

//  A value's truth as Python's and YAQL's (false: null, false, 0, 0.0, "",
//  [], {}), e.g. for a workflow's `when`.
bool template_is_true (const json_t *value);

//  The names the template reads from its context (Jinja's
//  meta.find_undeclared_variables): every name used, less those the
//  template binds itself ({% set %}, {% for %} and loop). A new array of
//  strings (caller owns it; NULL when out of memory).
json_t *template_variables (const template_t *self);

//  `value` as Jinja writes it into text (Python's str()). Caller frees;
//  NULL when out of memory.
char *template_text (const json_t *value);

#ifdef __cplusplus
}
#endif

#endif
