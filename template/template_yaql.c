/*  template_yaql: YAQL's expression syntax (what stands between <% and
    %>) to the engine's syntax tree, so template_eval runs both languages.

    Precedence, loosest first, as YAQL's: `a, b` (a list, top level
    only), or, and, not, comparisons (= != < > <= >= in, left to right,
    never chained), + -, * / mod, unary + -, then postfix: .name
    .method(args) [index]. A bare word is a string (ctx(foo) is
    ctx('foo')); true, false, null are constants; $ is the data (the item
    inside select/where), $name a variable. Every node made here is marked
    `yaql`: the evaluator applies YAQL's rules to it (= is equality, / of
    integers is floor division, + merges dicts, .name maps over a list)
    and its errors say "yaql". */
#include "template/template_ast.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    const char *text;
    tk_t *tk;
    size_t pos;
    char **error;
    int depth;
} yparser_t;

static node_t *s_or (yparser_t *p);

//  Lexer ----------------------------------------------------------------------

typedef struct {
    const char *name;
    const char *text;
    size_t pos, end;
    int line, col;
    tk_list_t *tokens;
    char **error;
} ylexer_t;

static int
s_lex_fail (ylexer_t *l, const char *format, ...)
{
    char what[256];
    va_list args;
    va_start (args, format);
    vsnprintf (what, sizeof what, format, args);
    va_end (args);
    if (!*l->error) {
        char *message = NULL;
        if (asprintf (&message, "template '%s' line %d column %d: yaql: %s",
                      l->name ? l->name : "", l->line, l->col, what) >= 0)
            *l->error = message;
    }
    return -1;
}

static void
s_advance (ylexer_t *l, size_t to)
{
    for (; l->pos < to; l->pos++) {
        if (l->text[l->pos] == '\n') {
            l->line++;
            l->col = 1;
        } else if (((unsigned char)l->text[l->pos] & 0xC0) != 0x80)
            l->col++;
    }
}

//  A token of `n` bytes at pos with a copy of `text` (NULL: the source).
static int
s_token (ylexer_t *l, tk_type_t type, size_t n, const char *text, size_t length)
{
    tk_t *tk = template_token_push (l->tokens, type, l->line, l->col, l->pos, l->pos + n);
    if (!text) {
        text = l->text + l->pos;
        length = n;
    }
    if (!tk || !(tk->text = (char *)malloc (length + 1)))
        return s_lex_fail (l, "out of memory");
    memcpy (tk->text, text, length);
    tk->text[length] = 0;
    tk->length = length;
    s_advance (l, l->pos + n);
    return 0;
}

//  A quoted string ('...', "..." or `...`) at pos. 0 or -1.
static int
s_string (ylexer_t *l)
{
    const char *p = l->text + l->pos, *end = l->text + l->end;
    char quote = *p++;
    char *out = (char *)malloc ((size_t)(end - p) + 1);
    size_t n = 0;
    if (!out)
        return s_lex_fail (l, "out of memory");
    for (; p < end && *p != quote; p++) {
        if (*p != '\\' || p + 1 >= end || quote == '`') {
            if (*p == '\\' && quote == '`' && p + 1 < end && p[1] == '`')
                p++;
            out[n++] = *p;
            continue;
        }
        const char *escapes = "n\nt\tr\r\\\\''\"\"a\ab\bf\fv\v00";
        const char *e = strchr (escapes, *++p);
        if (e && ((e - escapes) % 2) == 0)
            out[n++] = e[1];
        else {
            out[n++] = '\\';
            out[n++] = *p;
        }
    }
    if (p >= end) {
        free (out);
        return s_lex_fail (l, "unterminated string");
    }
    int rc = s_token (l, TK_STRING, (size_t)(p + 1 - (l->text + l->pos)), out, n);
    free (out);
    return rc;
}

static int
s_number (ylexer_t *l)
{
    const char *start = l->text + l->pos, *p = start;
    while (isdigit ((unsigned char)*p))
        p++;
    bool real = *p == '.' && isdigit ((unsigned char)p[1]);
    if (real)
        for (p++; isdigit ((unsigned char)*p); p++)
            ;
    tk_t *tk = template_token_push (l->tokens, real ? TK_FLOAT : TK_INT, l->line, l->col,
                                    l->pos, (size_t)(p - l->text));
    if (!tk)
        return s_lex_fail (l, "out of memory");
    errno = 0;
    if (real)
        tk->real = strtod (start, NULL);
    else
        tk->integer = strtoll (start, NULL, 10);
    if (errno)
        return s_lex_fail (l, "number out of range: %.*s", (int)(p - start), start);
    s_advance (l, (size_t)(p - l->text));
    return 0;
}

static int
s_lex (ylexer_t *l)
{
    static const char *const ops[] = {
        "=>", "?.", "->", "=~", "!~", "!=", "<=", ">=", "==", "=", "<", ">", "+",
        "-",  "*",  "/",  ".",  "(",  ")",  "[",  "]",  "{",  "}", ",", NULL};
    while (l->pos < l->end) {
        const char *p = l->text + l->pos;
        if (isspace ((unsigned char)*p)) {
            s_advance (l, l->pos + 1);
            continue;
        }
        int rc;
        if (*p == '\'' || *p == '"' || *p == '`')
            rc = s_string (l);
        else if (isdigit ((unsigned char)*p))
            rc = s_number (l);
        else if (isalpha ((unsigned char)*p) || *p == '_' || *p == '$') {
            size_t n = 1;
            while (l->pos + n < l->end && (isalnum ((unsigned char)p[n]) || p[n] == '_'))
                n++;
            rc = s_token (l, TK_NAME, n, NULL, 0);
        } else {
            const char *const *op = ops;
            while (*op &&
                   (l->pos + strlen (*op) > l->end || strncmp (p, *op, strlen (*op))))
                op++;
            if (!*op)
                return s_lex_fail (l, "unexpected character '%c'", *p);
            rc = s_token (l, TK_OP, strlen (*op), NULL, 0);
        }
        if (rc)
            return -1;
    }
    if (!template_token_push (l->tokens, TK_EOF, l->line, l->col, l->end, l->end))
        return s_lex_fail (l, "out of memory");
    return 0;
}

//  Parser helpers --------------------------------------------------------------

static void *
s_fail (yparser_t *p, const tk_t *at, const char *format, ...)
{
    char what[256];
    va_list args;
    va_start (args, format);
    vsnprintf (what, sizeof what, format, args);
    va_end (args);
    if (!*p->error) {
        char *message = NULL;
        if (asprintf (&message, "template '%s' line %d column %d: yaql: %s",
                      p->name ? p->name : "", at->line, at->col, what) >= 0)
            *p->error = message;
    }
    return NULL;
}

static tk_t *
s_peek (yparser_t *p)
{
    return &p->tk[p->pos];
}

static tk_t *
s_next (yparser_t *p)
{
    tk_t *tk = &p->tk[p->pos];
    if (tk->type != TK_EOF)
        p->pos++;
    return tk;
}

static bool
s_is_op (yparser_t *p, const char *op)
{
    tk_t *tk = s_peek (p);
    return tk->type == TK_OP && strcmp (tk->text, op) == 0;
}

static bool
s_is_word (yparser_t *p, const char *word)
{
    tk_t *tk = s_peek (p);
    return tk->type == TK_NAME && strcmp (tk->text, word) == 0;
}

//  What the current token is, for messages.
static const char *
s_found (yparser_t *p)
{
    tk_t *tk = s_peek (p);
    return tk->type == TK_EOF ? "the expression's end" : tk->text ? tk->text : "a number";
}

static bool
s_expect (yparser_t *p, const char *op)
{
    if (s_is_op (p, op)) {
        s_next (p);
        return true;
    }
    tk_t *tk = s_peek (p);
    if (tk->type == TK_OP && !strcmp (tk->text, "->"))
        s_fail (p, tk, "'->' (a lambda) is not supported");
    else if (tk->type == TK_EOF)
        s_fail (p, tk, "expected '%s', found the expression's end", op);
    else
        s_fail (p, tk, "expected '%s', found '%s'", op, s_found (p));
    return false;
}

static node_t *
s_node (yparser_t *p, node_type_t type, const tk_t *at)
{
    node_t *n = template_node_new (type, at);
    if (!n)
        return s_fail (p, at, "out of memory");
    n->yaql = true;
    return n;
}

//  Add `kid` under `key` (NULL: positional) or free both. false on failure.
static bool
s_adopt (yparser_t *p, node_t **n, node_t *kid, const char *key)
{
    if (!*n || !kid || template_node_add (*n, kid, key)) {
        if (*n && kid)
            s_fail (p, s_peek (p), "out of memory");
        template_node_free (&kid);
        template_node_free (n);
        return false;
    }
    return true;
}

//  A node of `type` at `at` over `a` (and `b`, when not NULL); NULL (both
//  freed) once an error is set.
static node_t *
s_make (yparser_t *p, node_type_t type, const tk_t *at, node_t *a, node_t *b)
{
    if (!a || *p->error) {
        template_node_free (&a);
        template_node_free (&b);
        return NULL;
    }
    node_t *n = s_node (p, type, at);
    if (!s_adopt (p, &n, a, NULL)) {
        template_node_free (&b);
        return NULL;
    }
    if (a->start < n->start) {
        n->start = a->start;
        n->line = a->line;
        n->col = a->col;
    }
    if (b && !s_adopt (p, &n, b, NULL))
        return NULL;
    return n;
}

static node_t *
s_literal (yparser_t *p, const tk_t *at, json_t *value)
{
    node_t *n = value ? s_node (p, N_LITERAL, at) : NULL;
    if (!n) {
        json_decref (value);
        return value ? NULL : s_fail (p, at, "out of memory");
    }
    n->value = value;
    return n;
}

//  Arguments and collections ---------------------------------------------------

typedef enum { ARGS_CALL, ARGS_LIST, ARGS_MAP } args_kind_t;

//  One `key => value` pair of a map into `n` (key and value kids).
static bool
s_pair (yparser_t *p, node_t **n, node_t *key)
{
    node_t *value = s_or (p);
    if (!value) {
        template_node_free (&key);
        template_node_free (n);
        return false;
    }
    return s_adopt (p, n, key, NULL) && s_adopt (p, n, value, NULL);
}

//  A call's keyword argument `name => value`: the name is a word or a
//  string.
static bool
s_keyword (yparser_t *p, node_t **n, node_t *key)
{
    if (key->type != N_LITERAL || !json_is_string (key->value)) {
        s_fail (p, &(tk_t){.line = key->line, .col = key->col},
                "a keyword argument's name is a word ('name => value')");
        template_node_free (&key);
        template_node_free (n);
        return false;
    }
    char *name = strdup (json_string_value (key->value));
    template_node_free (&key);
    node_t *value = name ? s_or (p) : NULL;
    bool ok = value && s_adopt (p, n, value, name);
    free (name);
    if (!value)
        template_node_free (n);
    return ok;
}

//  Items up to `close` into `n`: `a, b` and `k => v` as `kind` allows.
static node_t *
s_items (yparser_t *p, node_t *n, const char *close, args_kind_t kind)
{
    bool named = false;
    while (n && !s_is_op (p, close)) {
        tk_t *at = s_peek (p);
        node_t *item = s_or (p);
        if (!item) {
            template_node_free (&n);
            break;
        }
        if (s_is_op (p, "=>") && kind != ARGS_LIST) {
            s_next (p);
            named = true;
            if (!(kind == ARGS_MAP ? s_pair (p, &n, item) : s_keyword (p, &n, item)))
                break;
        } else if (kind == ARGS_MAP || named) {
            template_node_free (&item);
            template_node_free (&n);
            return s_fail (p, at,
                           kind == ARGS_MAP
                               ? "a dict's items are 'key => value'"
                               : "a positional argument after a keyword one");
        } else if (!s_adopt (p, &n, item, NULL))
            break;
        if (!s_is_op (p, close) && !s_expect (p, ","))
            template_node_free (&n);
    }
    if (n)
        n->end = s_next (p)->end;
    return n;
}

//  NAME(args) after the '(' (a method's receiver, when given, first).
//  list(...) and dict(k => v, ...) are literals.
static node_t *
s_call (yparser_t *p, const tk_t *name, node_t *receiver)
{
    bool list = !receiver && strcmp (name->text, "list") == 0;
    if (list)
        return s_items (p, s_node (p, N_LIST, name), ")", ARGS_LIST);
    size_t mark = p->pos;
    bool map = !receiver && strcmp (name->text, "dict") == 0 &&
               (s_is_op (p, ")") || (s_next (p), s_is_op (p, "=>")));
    p->pos = mark;
    if (map)
        return s_items (p, s_node (p, N_DICT, name), ")", ARGS_MAP);
    node_t *callee = s_node (p, N_NAME, name);
    if (callee && !(callee->name = strdup (name->text)))
        template_node_free (&callee);
    node_t *n = receiver ? s_make (p, N_CALL, name, callee, receiver)
                         : s_make (p, N_CALL, name, callee, NULL);
    if (n && receiver) //  the receiver is positional argument 0
        n->start = receiver->start, n->line = receiver->line, n->col = receiver->col;
    return s_items (p, n, ")", ARGS_CALL);
}

//  Expressions -----------------------------------------------------------------

//  A word: a constant, an operator word misplaced, or a string.
static node_t *
s_word (yparser_t *p, tk_t *tk)
{
    const char *s = tk->text;
    if (!strcmp (s, "true"))
        return s_literal (p, tk, json_true ());
    if (!strcmp (s, "false"))
        return s_literal (p, tk, json_false ());
    if (!strcmp (s, "null"))
        return s_literal (p, tk, json_null ());
    if (!strcmp (s, "and") || !strcmp (s, "or") || !strcmp (s, "in") ||
        !strcmp (s, "mod") || !strcmp (s, "not"))
        return s_fail (p, tk, "expected a value, found '%s'", s);
    if (*s == '$') { //  $ the data, $name a variable
        node_t *n = s_node (p, N_NAME, tk);
        if (n && !(n->name = strdup (s[1] ? s + 1 : "$")))
            template_node_free (&n);
        return n ? n : s_fail (p, tk, "out of memory");
    }
    return s_literal (p, tk, json_string (s)); //  a keyword string
}

static node_t *
s_primary (yparser_t *p)
{
    tk_t *tk = s_next (p);
    if (tk->type == TK_INT)
        return s_literal (p, tk, json_integer (tk->integer));
    if (tk->type == TK_FLOAT)
        return s_literal (p, tk, json_real (tk->real));
    if (tk->type == TK_STRING) {
        json_t *value = json_stringn (tk->text, tk->length);
        return value ? s_literal (p, tk, value) : s_fail (p, tk, "string is not UTF-8");
    }
    if (tk->type == TK_NAME) {
        bool call =
            s_is_op (p, "(") && s_peek (p)->start == tk->end && tk->text[0] != '$';
        if (call && strcmp (tk->text, "not")) {
            s_next (p);
            return s_call (p, tk, NULL);
        }
        return s_word (p, tk);
    }
    if (tk->type == TK_OP && !strcmp (tk->text, "(")) {
        node_t *inner = s_or (p);
        if (inner && !s_expect (p, ")"))
            template_node_free (&inner);
        return inner;
    }
    if (tk->type == TK_OP && !strcmp (tk->text, "["))
        return s_items (p, s_node (p, N_LIST, tk), "]", ARGS_LIST);
    if (tk->type == TK_OP && !strcmp (tk->text, "{"))
        return s_items (p, s_node (p, N_DICT, tk), "}", ARGS_MAP);
    p->pos--;
    if (tk->type == TK_EOF)
        return s_fail (p, tk, "expected a value, found the expression's end");
    if (tk->type == TK_OP && !strcmp (tk->text, "->"))
        return s_fail (p, tk, "'->' (a lambda) is not supported");
    return s_fail (p, tk, "expected a value, found '%s'", s_found (p));
}

//  a[index] after the '[': an item, or get(a, key, default).
static node_t *
s_index (yparser_t *p, const tk_t *at, node_t *target)
{
    node_t *n = s_node (p, N_CALL, at);
    if (!n || !(n = s_items (p, n, "]", ARGS_LIST))) {
        template_node_free (&target);
        return NULL;
    }
    if (n->count < 1 || n->count > 2) {
        template_node_free (&target);
        template_node_free (&n);
        return s_fail (p, at, "an index takes one value, or a key and a default");
    }
    node_t *index = n->kids[0];
    node_t *fallback = n->count == 2 ? n->kids[1] : NULL;
    size_t end = n->end; //  the ']'
    n->count = 0;
    template_node_free (&n);
    if (!fallback) {
        node_t *item = s_make (p, N_ITEM, at, target, index);
        if (item)
            item->end = end;
        return item;
    }
    node_t *callee = s_node (p, N_NAME, at);
    if (callee && !(callee->name = strdup ("get")))
        template_node_free (&callee);
    node_t *call = s_make (p, N_CALL, at, callee, target);
    if (!s_adopt (p, &call, index, NULL)) {
        template_node_free (&fallback);
        return NULL;
    }
    return s_adopt (p, &call, fallback, NULL) ? call : NULL;
}

static node_t *
s_postfix (yparser_t *p, node_t *n)
{
    while (n) {
        tk_t *tk = s_peek (p);
        if (s_is_op (p, ".") || s_is_op (p, "?.")) {
            if (!strcmp (tk->text, "?.")) {
                template_node_free (&n);
                return s_fail (p, tk, "'?.' is not supported");
            }
            s_next (p);
            tk_t *name = s_next (p);
            if (name->type != TK_NAME || name->text[0] == '$') {
                template_node_free (&n);
                return s_fail (p, name, "expected a name after '.'");
            }
            if (s_is_op (p, "(") && s_peek (p)->start == name->end) {
                s_next (p);
                n = s_call (p, name, n);
                continue;
            }
            n = s_make (p, N_ATTR, tk, n, NULL);
            if (n && !(n->name = strdup (name->text)))
                template_node_free (&n);
            if (n)
                n->end = name->end;
        } else if (s_is_op (p, "[")) {
            s_next (p);
            n = s_index (p, tk, n);
        } else
            break;
    }
    return n;
}

static node_t *
s_unary (yparser_t *p)
{
    tk_t *tk = s_peek (p);
    if (s_is_op (p, "-") || s_is_op (p, "+")) {
        s_next (p);
        if (++p->depth > TEMPLATE_MAX_DEPTH)
            return s_fail (p, tk, "expression nested deeper than %d levels",
                           TEMPLATE_MAX_DEPTH);
        node_t *n = s_make (p, N_UNARY, tk, s_unary (p), NULL);
        p->depth--;
        if (n) {
            strcpy (n->op, tk->text);
            n->start = tk->start;
            n->line = tk->line;
            n->col = tk->col;
        }
        return n;
    }
    return s_postfix (p, s_primary (p));
}

//  The binary operator of `level` at the current token (0: comparisons,
//  1: + -, 2: * / mod), as the evaluator spells it; NULL when none.
static const char *
s_binary_op (yparser_t *p, int level)
{
    static const char *const levels[][8][2] = {
        {{"=", "=="},
         {"!=", "!="},
         {"<", "<"},
         {">", ">"},
         {"<=", "<="},
         {">=", ">="},
         {"in", "in"},
         {NULL, NULL}},
        {{"+", "+"}, {"-", "-"}, {NULL, NULL}},
        {{"*", "*"}, {"/", "/"}, {"mod", "%"}, {NULL, NULL}}};
    tk_t *tk = s_peek (p);
    if (tk->type != TK_OP && tk->type != TK_NAME)
        return NULL;
    for (int i = 0; levels[level][i][0]; i++)
        if (strcmp (tk->text, levels[level][i][0]) == 0)
            return levels[level][i][1];
    if (tk->type == TK_OP && !strcmp (tk->text, "=="))
        s_fail (p, tk, "'==' is not an operator: YAQL compares with '='");
    if (tk->type == TK_OP && (!strcmp (tk->text, "=~") || !strcmp (tk->text, "!~")))
        s_fail (p, tk, "'%s' (a regular expression match) is not supported", tk->text);
    return NULL;
}

static node_t *
s_binary (yparser_t *p, int level)
{
    if (++p->depth > TEMPLATE_MAX_DEPTH) {
        p->depth--;
        return s_fail (p, s_peek (p), "expression nested deeper than %d levels",
                       TEMPLATE_MAX_DEPTH);
    }
    node_t *n = level == 2 ? s_unary (p) : s_binary (p, level + 1);
    const char *op;
    while (n && (op = s_binary_op (p, level))) {
        tk_t *tk = s_next (p);
        node_t *right = level == 2 ? s_unary (p) : s_binary (p, level + 1);
        n = s_make (p, level == 0 ? N_COMPARE : N_BINARY, tk, n, right);
        if (n && level == 0) {
            if (!(n->ops = (char (*)[4])calloc (1, sizeof *n->ops)))
                template_node_free (&n);
            else
                strcpy (n->ops[0], op);
        } else if (n)
            strcpy (n->op, op);
    }
    p->depth--;
    return *p->error ? (template_node_free (&n), NULL) : n;
}

static node_t *
s_not (yparser_t *p)
{
    if (!s_is_word (p, "not"))
        return s_binary (p, 0);
    tk_t *tk = s_next (p);
    if (++p->depth > TEMPLATE_MAX_DEPTH)
        return s_fail (p, tk, "expression nested deeper than %d levels",
                       TEMPLATE_MAX_DEPTH);
    node_t *n = s_make (p, N_NOT, tk, s_not (p), NULL);
    p->depth--;
    return n;
}

static node_t *
s_and (yparser_t *p)
{
    node_t *n = s_not (p);
    while (n && s_is_word (p, "and")) {
        tk_t *tk = s_next (p);
        n = s_make (p, N_AND, tk, n, s_not (p));
    }
    return n;
}

static node_t *
s_or (yparser_t *p)
{
    if (++p->depth > TEMPLATE_MAX_DEPTH) {
        p->depth--;
        return s_fail (p, s_peek (p), "expression nested deeper than %d levels",
                       TEMPLATE_MAX_DEPTH);
    }
    node_t *n = s_and (p);
    while (n && s_is_word (p, "or")) {
        tk_t *tk = s_next (p);
        n = s_make (p, N_OR, tk, n, s_and (p));
    }
    p->depth--;
    return n;
}

//  The whole expression: `a, b` at the top is a list.
static node_t *
s_top (yparser_t *p)
{
    tk_t *at = s_peek (p);
    node_t *n = s_or (p);
    if (n && s_is_op (p, ",")) {
        node_t *list = s_make (p, N_LIST, at, n, NULL);
        while (list && s_is_op (p, ",")) {
            s_next (p);
            if (!s_adopt (p, &list, s_or (p), NULL))
                break;
        }
        n = list;
    }
    if (n && s_peek (p)->type != TK_EOF) {
        s_fail (p, s_peek (p), "unexpected '%s'", s_found (p));
        template_node_free (&n);
    }
    return n;
}

node_t *
template_yaql_parse (const char *name, const char *text, size_t start, size_t end,
                     int line, int col, char **error)
{
    tk_list_t tokens = {NULL, 0, 0};
    ylexer_t l = {name, text, start, end, line, col, &tokens, error};
    node_t *n = NULL;
    if (s_lex (&l) == 0) {
        yparser_t p = {name, text, tokens.items, 0, error, 0};
        if (tokens.count == 1)
            s_fail (&p, &tokens.items[0], "empty expression");
        else
            n = s_top (&p);
    }
    template_tokens_free (&tokens);
    if (!n && !*error)
        *error = strdup ("out of memory");
    if (*error)
        template_node_free (&n);
    return n;
}
