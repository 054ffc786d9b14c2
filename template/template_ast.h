/*  template_ast: what the template engine's files share (tokens, syntax
    tree, render state). Private to template/. */
#ifndef TEMPLATE_AST_H_INCLUDED
#define TEMPLATE_AST_H_INCLUDED

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "template/template.h"
#include "template/template_regex.h"

//  Tokens --------------------------------------------------------------------

typedef enum {
    TK_EOF,
    TK_TEXT,        //  literal text between tags
    TK_VAR_BEGIN,   //  {{
    TK_VAR_END,     //  }}
    TK_BLOCK_BEGIN, //  {%
    TK_BLOCK_END,   //  %}
    TK_NAME,
    TK_INT,
    TK_FLOAT,
    TK_STRING,
    TK_OP,  //  + - * / // % ** ~ == != < > <= >= = ( ) [ ] { } , . : |
    TK_YAQL //  a <% yaql %> block: start..end is the expression's source
} tk_type_t;

typedef struct {
    tk_type_t type;
    int line, col;
    size_t start, end; //  byte span in the source
    char *text;        //  TEXT, NAME, STRING (decoded), OP
    size_t length;     //  of text (a STRING may hold NUL)
    json_int_t integer;
    double real;
} tk_t;

typedef struct {
    tk_t *items;
    size_t count, cap;
} tk_list_t;

//  Tokenize `text`; with TEMPLATE_YAQL in `flags` also <% %> blocks.
//  0, or -1 with *error set.
int template_lex (const char *name, const char *text, unsigned flags, tk_list_t *tokens,
                  char **error);
//  Append a token (text NULL). NULL when out of memory.
tk_t *template_token_push (tk_list_t *tokens, tk_type_t type, int line, int col,
                           size_t start, size_t end);
void template_tokens_free (tk_list_t *tokens);

//  Syntax tree ---------------------------------------------------------------

typedef enum {
    N_BODY,    //  kids: the statements
    N_TEXT,    //  value: the text
    N_OUTPUT,  //  kids[0]: the expression
    N_IF,      //  kids: cond, body, cond, body, ... [else body when count odd]
    N_FOR,     //  name [, name2]; kids: iterable, body, filter|NULL, else|NULL
    N_SET,     //  name; kids[0]: the value
    N_LITERAL, //  value
    N_NAME,    //  name
    N_ATTR,    //  kids[0].name
    N_ITEM,    //  kids[0][kids[1]]
    N_SLICE,   //  kids[0][kids[1]:kids[2]:kids[3]], any of 1..3 NULL
    N_CALL,    //  kids[0](kids[1..]), keys[i] for keyword arguments
    N_FILTER,  //  name; kids[0] | name(kids[1..]), keys as for N_CALL
    N_TEST,    //  name; kids[0] is [not] name(kids[1..])
    N_UNARY,   //  op; kids[0]
    N_BINARY,  //  op; kids[0] op kids[1]
    N_AND,
    N_OR,
    N_NOT,
    N_COMPARE, //  kids[0] op[0] kids[1] op[1] kids[2] ... (ops in `ops`)
    N_COND,    //  kids[1] if kids[0] else kids[2] (NULL: undefined)
    N_LIST,    //  kids
    N_DICT     //  kids: key, value, key, value, ...
} node_type_t;

typedef struct _node_t node_t;
struct _node_t {
    node_type_t type;
    int line, col;
    size_t start, end; //  source span, for messages
    char op[4];        //  N_UNARY, N_BINARY
    char (*ops)[4];    //  N_COMPARE: count - 1 operators
    bool negated;      //  N_TEST: is not
    bool yaql;         //  from a <% %> block: YAQL's semantics, "yaql" in errors
    char *name, *name2;
    json_t *value;
    node_t **kids;
    char **keys; //  keyword names parallel to kids (NULL: positional)
    size_t count, cap;
};

node_t *template_node_new (node_type_t type, const tk_t *at);
void template_node_free (node_t **self_p);
//  Append `kid` (may be NULL) with an optional keyword. 0 or -1.
int template_node_add (node_t *self, node_t *kid, const char *key);

//  Parse tokens into a body. NULL with *error set.
node_t *template_parse (const char *name, const char *text, tk_list_t *tokens,
                        char **error);

//  Parse the YAQL expression text[start..end) (template_yaql.c); `line`
//  and `col` are where it starts. NULL with *error set.
node_t *template_yaql_parse (const char *name, const char *text, size_t start, size_t end,
                             int line, int col, char **error);

//  Errors --------------------------------------------------------------------

//  "template 'NAME' line L column C: WHAT", malloc'd.
char *template_error (const char *name, int line, int col, const char *format,
                      va_list args);

//  Render state --------------------------------------------------------------

#define TEMPLATE_SCOPES 72

typedef struct {
    const char *name;
    const char *text;
    const json_t *context;
    const template_hooks_t *hooks;
    const template_emit_t *emit;     //  template_render_emit's, else NULL
    json_t *scopes[TEMPLATE_SCOPES]; //  innermost last
    size_t scope_count;
    json_t *undefined;     //  the sentinel for an undefined value
    const node_t *missing; //  the expression that was last undefined
    char *error;
    size_t iterations;
    int depth;
    template_regex_cache_t *regex;
} render_t;

//  Set the render's error at `at` (first error wins). Returns NULL.
void *template_fail (render_t *r, const node_t *at, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));
//  The error for using the undefined value `at` produced.
void *template_fail_undefined (render_t *r, const node_t *at);

//  Evaluate an expression: a new reference (r->undefined when undefined),
//  or NULL with r->error set.
json_t *template_eval (render_t *r, const node_t *node);
//  Render statements, appending text. 0 or -1.
typedef struct {
    char *data;
    size_t used, cap;
} tbuf_t;
int template_exec (render_t *r, const node_t *body, tbuf_t *out);
int template_buf_add (render_t *r, const node_t *at, tbuf_t *b, const char *text,
                      size_t n);

//  Values (template_value.c) -------------------------------------------------

bool template_truthy (const json_t *value);
//  Python's str() of a value; malloc'd.
char *template_str (const json_t *value);
//  Python's repr(); malloc'd.
char *template_repr (const json_t *value);
//  Equality as Python's == (1 == 1.0, deep for lists and dicts).
bool template_equal (const json_t *a, const json_t *b);
//  Order: -1, 0, 1 into *order; -1 when the types cannot be ordered.
int template_compare (const json_t *a, const json_t *b, int *order);
//  Arithmetic: op is "+", "-", ... New reference or NULL with error.
json_t *template_arith (render_t *r, const node_t *at, const char *op, const json_t *a,
                        const json_t *b);
//  `needle in haystack`. 0/1, or -1 with error.
int template_contains (render_t *r, const node_t *at, const json_t *haystack,
                       const json_t *needle);
//  Items of a sequence for iteration (list; dict keys; string chars) as a
//  new list, or NULL with error.
json_t *template_items (render_t *r, const node_t *at, const json_t *value);
//  A Python float's repr into buf.
void template_format_real (double d, char *buf, size_t size);
//  Type name as Python says it (for messages).
const char *template_type_name (const json_t *value);

//  Filters and tests ----------------------------------------------------------

typedef struct {
    json_t **values; //  evaluated arguments (positional then keyword)
    char **keys;     //  NULL for positional
    size_t count;
} targs_t;

//  The argument at position `index` or named `key`; NULL when absent.
json_t *template_arg (const targs_t *args, size_t index, const char *key);

typedef json_t *(*template_filter_fn) (render_t *r, const node_t *at, json_t *value,
                                       const targs_t *args);
typedef struct {
    const char *name;
    template_filter_fn fn;
    bool undefined_ok; //  takes an undefined value (default)
} template_filter_entry_t;

//  StackStorm's filters (template_filters_st2.c), NULL-terminated.
extern const template_filter_entry_t template_st2_filters[];
//  StackStorm's version_* and to_human_time_from_seconds
//  (template_filters_version.c), NULL-terminated.
extern const template_filter_entry_t template_version_filters[];
//  Shared helpers of the filter files.
json_t *template_string_result (render_t *r, const node_t *at, char *text);
json_t *template_attribute (json_t *item, const char *path);

//  Apply filter `name`. New reference or NULL with error.
json_t *template_filter (render_t *r, const node_t *at, const char *name, json_t *value,
                         const targs_t *args);
bool template_filter_known (const char *name);
//  Apply test `name`: 0/1, or -1 with error.
int template_test (render_t *r, const node_t *at, const char *name, json_t *value,
                   const targs_t *args);
bool template_test_known (const char *name);

//  Built-in functions (template_functions.c): json, zip, len, ... Calls
//  `name` with the call node's arguments (kids[1..]). Sets *known false,
//  and returns NULL, when there is no such function.
json_t *template_function (render_t *r, const node_t *node, const char *name,
                           bool *known);
//  Evaluate kids[from..] of a call as arguments. 0 or -1.
int template_arguments (render_t *r, const node_t *node, size_t from, targs_t *args);
void template_arguments_free (targs_t *args);
//  YAML text of a value (to_yaml_string); malloc'd.
char *template_yaml (const json_t *value);

#endif
