/*  template_parser: tokens to a syntax tree (Jinja's grammar and
    precedence: conditional, or, and, not, comparisons, ~, + -, * / // %,
    **, unary - +, then postfix: .attr [index] [a:b] (call) | filter
    is test). */
#include "template/template_ast.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    const char *text;
    tk_t *tk;
    size_t pos, count;
    char **error;
    int depth;
} parser_t;

static node_t *s_expression (parser_t *p);
static node_t *s_body (parser_t *p, const char *const *ends);

node_t *
template_node_new (node_type_t type, const tk_t *at)
{
    node_t *self = (node_t *)calloc (1, sizeof *self);
    if (self) {
        self->type = type;
        self->line = at->line;
        self->col = at->col;
        self->start = at->start;
        self->end = at->end;
    }
    return self;
}

void
template_node_free (node_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        node_t *self = *self_p;
        for (size_t i = 0; i < self->count; i++) {
            template_node_free (&self->kids[i]);
            if (self->keys)
                free (self->keys[i]);
        }
        free (self->kids);
        free (self->keys);
        free (self->ops);
        free (self->name);
        free (self->name2);
        json_decref (self->value);
        free (self);
        *self_p = NULL;
    }
}

int
template_node_add (node_t *self, node_t *kid, const char *key)
{
    if (self->count == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 4;
        node_t **kids = (node_t **)realloc (self->kids, cap * sizeof *kids);
        if (!kids)
            return -1;
        self->kids = kids;
        char **keys = (char **)realloc (self->keys, cap * sizeof *keys);
        if (!keys)
            return -1;
        self->keys = keys;
        self->cap = cap;
    }
    self->keys[self->count] = key ? strdup (key) : NULL;
    self->kids[self->count++] = kid;
    if (kid && kid->end > self->end)
        self->end = kid->end;
    return 0;
}

static void *
s_fail (parser_t *p, const tk_t *at, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    if (!*p->error)
        *p->error = template_error (p->name, at->line, at->col, format, args);
    va_end (args);
    return NULL;
}

static tk_t *
s_peek (parser_t *p)
{
    return &p->tk[p->pos];
}

static tk_t *
s_next (parser_t *p)
{
    tk_t *tk = &p->tk[p->pos];
    if (tk->type != TK_EOF)
        p->pos++;
    return tk;
}

static bool
s_is_op (parser_t *p, const char *op)
{
    tk_t *tk = s_peek (p);
    return tk->type == TK_OP && strcmp (tk->text, op) == 0;
}

static bool
s_is_name (parser_t *p, const char *name)
{
    tk_t *tk = s_peek (p);
    return tk->type == TK_NAME && strcmp (tk->text, name) == 0;
}

//  Consume `op` or fail.
static bool
s_expect_op (parser_t *p, const char *op)
{
    if (s_is_op (p, op)) {
        s_next (p);
        return true;
    }
    tk_t *tk = s_peek (p);
    s_fail (p, tk, "expected '%s', found %s%.40s%s", op, tk->text ? "'" : "",
            tk->text ? tk->text : "the tag's end", tk->text ? "'" : "");
    return false;
}

//  A node of `type` at `at` over `a` (and `b`), which it owns; NULL (and
//  both freed) when `a` is NULL (its error is set) or out of memory.
static node_t *
s_make (parser_t *p, node_type_t type, const tk_t *at, node_t *a, node_t *b)
{
    if (!a) {
        template_node_free (&b);
        return NULL;
    }
    node_t *n = template_node_new (type, at);
    if (!n || template_node_add (n, a, NULL)) {
        template_node_free (&a);
        template_node_free (&n);
        template_node_free (&b);
        return s_fail (p, at, "out of memory");
    }
    if (a->start < n->start) { //  the node starts where its first operand does
        n->start = a->start;
        n->line = a->line;
        n->col = a->col;
    }
    if (b && template_node_add (n, b, NULL)) {
        template_node_free (&b);
        template_node_free (&n);
        return s_fail (p, at, "out of memory");
    }
    return n;
}

//  name(args, key=value) after the '(' ; adds to `n`. 0 or -1.
static int
s_arguments (parser_t *p, node_t *n)
{
    while (!s_is_op (p, ")")) {
        const char *key = NULL;
        if (s_peek (p)->type == TK_NAME && p->tk[p->pos + 1].type == TK_OP &&
            strcmp (p->tk[p->pos + 1].text, "=") == 0) {
            key = s_next (p)->text;
            s_next (p);
        }
        node_t *arg = s_expression (p);
        if (!arg || template_node_add (n, arg, key)) {
            template_node_free (&arg);
            return -1;
        }
        if (!s_is_op (p, ")") && !s_expect_op (p, ","))
            return -1;
    }
    s_next (p);
    return 0;
}

static node_t *
s_literal (parser_t *p, const tk_t *tk, json_t *value)
{
    node_t *n = value ? template_node_new (N_LITERAL, tk) : NULL;
    if (!n) {
        json_decref (value);
        return s_fail (p, tk, "out of memory");
    }
    n->value = value;
    return n;
}

//  [a, b], (a, b), {k: v}: items up to `close`; dict pairs with `pairs`.
static node_t *
s_collection (parser_t *p, const tk_t *at, node_type_t type, const char *close,
              bool pairs)
{
    node_t *n = template_node_new (type, at);
    if (!n)
        return s_fail (p, at, "out of memory");
    while (!s_is_op (p, close)) {
        node_t *item = s_expression (p);
        if (!item || template_node_add (n, item, NULL)) {
            template_node_free (&item);
            template_node_free (&n);
            return NULL;
        }
        if (pairs) {
            node_t *value = s_expect_op (p, ":") ? s_expression (p) : NULL;
            if (!value || template_node_add (n, value, NULL)) {
                template_node_free (&value);
                template_node_free (&n);
                return NULL;
            }
        }
        if (!s_is_op (p, close) && !s_expect_op (p, ",")) {
            template_node_free (&n);
            return NULL;
        }
    }
    n->end = s_next (p)->end;
    return n;
}

static node_t *
s_primary (parser_t *p)
{
    tk_t *tk = s_next (p);
    if (tk->type == TK_INT)
        return s_literal (p, tk, json_integer (tk->integer));
    if (tk->type == TK_FLOAT)
        return s_literal (p, tk, json_real (tk->real));
    if (tk->type == TK_STRING) {
        size_t n = tk->length;
        char *text = strdup (tk->text);
        while (text && s_peek (p)->type == TK_STRING) { //  'a' 'b' is 'ab'
            tk_t *more = s_next (p);
            char *grown = (char *)realloc (text, n + more->length + 1);
            if (!grown)
                break;
            text = grown;
            memcpy (text + n, more->text, more->length + 1);
            n += more->length;
        }
        node_t *lit = s_literal (p, tk, text ? json_stringn (text, n) : NULL);
        free (text);
        return lit;
    }
    if (tk->type == TK_NAME) {
        const char *s = tk->text;
        if (!strcmp (s, "true") || !strcmp (s, "True"))
            return s_literal (p, tk, json_true ());
        if (!strcmp (s, "false") || !strcmp (s, "False"))
            return s_literal (p, tk, json_false ());
        if (!strcmp (s, "none") || !strcmp (s, "None"))
            return s_literal (p, tk, json_null ());
        node_t *n = template_node_new (N_NAME, tk);
        if (!n || !(n->name = strdup (s))) {
            template_node_free (&n);
            return s_fail (p, tk, "out of memory");
        }
        return n;
    }
    if (tk->type == TK_OP && !strcmp (tk->text, "(")) {
        node_t *inner = s_expression (p);
        if (inner && s_is_op (p, ",")) { //  a tuple is a list here
            node_t *list = s_make (p, N_LIST, tk, inner, NULL);
            s_next (p);
            node_t *rest = list ? s_collection (p, tk, N_LIST, ")", false) : NULL;
            if (!rest)
                template_node_free (&list);
            for (size_t i = 0; rest && i < rest->count; i++)
                if (template_node_add (list, rest->kids[i], NULL) == 0)
                    rest->kids[i] = NULL;
            template_node_free (&rest);
            return list;
        }
        if (inner && !s_expect_op (p, ")"))
            template_node_free (&inner);
        return inner;
    }
    if (tk->type == TK_OP && !strcmp (tk->text, "["))
        return s_collection (p, tk, N_LIST, "]", false);
    if (tk->type == TK_OP && !strcmp (tk->text, "{"))
        return s_collection (p, tk, N_DICT, "}", true);
    return s_fail (p, tk, "expected an expression, found %s%.40s%s", tk->text ? "'" : "",
                   tk->text ? tk->text : "the tag's end", tk->text ? "'" : "");
}

//  [index] or [a:b:c] after the '['.
static node_t *
s_subscript (parser_t *p, const tk_t *at, node_t *target)
{
    node_t *parts[3] = {NULL, NULL, NULL};
    int colons = 0;
    for (;;) {
        if (s_is_op (p, "]"))
            break;
        if (s_is_op (p, ":")) {
            s_next (p);
            if (++colons > 2)
                break;
            continue;
        }
        if (parts[colons] || !(parts[colons] = s_expression (p)))
            break;
    }
    node_t *n = NULL;
    if (s_expect_op (p, "]") && colons <= 2 && (colons || parts[0])) {
        n = s_make (p, colons ? N_SLICE : N_ITEM, at, target, NULL);
        target = NULL;
        for (int i = 0; n && i <= (colons ? 2 : 0); i++)
            if (template_node_add (n, parts[i], NULL) == 0)
                parts[i] = NULL;
    } else
        s_fail (p, at, "malformed subscript");
    for (int i = 0; i < 3; i++)
        template_node_free (&parts[i]);
    template_node_free (&target);
    return n;
}

//  | name(args), is [not] name args
static node_t *
s_filter_or_test (parser_t *p, node_t *subject, bool test)
{
    bool negated = test && s_is_name (p, "not") && (s_next (p), true);
    tk_t *name = s_next (p);
    if (name->type != TK_NAME) {
        template_node_free (&subject);
        return s_fail (p, name, "expected a %s name", test ? "test" : "filter");
    }
    node_t *n = s_make (p, test ? N_TEST : N_FILTER, name, subject, NULL);
    if (!n || !(n->name = strdup (name->text))) {
        template_node_free (&n);
        return s_fail (p, name, "out of memory");
    }
    if (!(test ? template_test_known (name->text) : template_filter_known (name->text))) {
        template_node_free (&n);
        return s_fail (p, name, "unknown %s '%s'", test ? "test" : "filter", name->text);
    }
    n->negated = negated;
    n->line = name->line;
    n->col = name->col;
    if (s_is_op (p, "(")) {
        s_next (p);
        if (s_arguments (p, n))
            template_node_free (&n);
    } else if (test) { //  is divisibleby 3, is sameas none
        tk_t *tk = s_peek (p);
        bool operand = tk->type == TK_INT || tk->type == TK_FLOAT ||
                       tk->type == TK_STRING ||
                       (tk->type == TK_NAME && strcmp (tk->text, "and") &&
                        strcmp (tk->text, "or") && strcmp (tk->text, "else") &&
                        strcmp (tk->text, "if") && strcmp (tk->text, "is") &&
                        strcmp (tk->text, "in") && strcmp (tk->text, "not"));
        node_t *arg = operand ? s_primary (p) : NULL;
        if (operand && (!arg || template_node_add (n, arg, NULL))) {
            template_node_free (&arg);
            template_node_free (&n);
        }
    }
    return n;
}

static node_t *
s_postfix (parser_t *p, node_t *n)
{
    while (n) {
        tk_t *tk = s_peek (p);
        if (s_is_op (p, ".")) {
            s_next (p);
            tk_t *attr = s_next (p);
            if (attr->type != TK_NAME && attr->type != TK_INT) {
                template_node_free (&n);
                return s_fail (p, attr, "expected a name after '.'");
            }
            n = s_make (p, N_ATTR, tk, n, NULL);
            char number[32];
            snprintf (number, sizeof number, "%lld", (long long)attr->integer);
            if (n && !(n->name = strdup (attr->type == TK_NAME ? attr->text : number)))
                template_node_free (&n);
            if (n)
                n->end = attr->end;
        } else if (s_is_op (p, "[")) {
            s_next (p);
            n = s_subscript (p, tk, n);
        } else if (s_is_op (p, "(")) {
            s_next (p);
            n = s_make (p, N_CALL, tk, n, NULL);
            if (n && s_arguments (p, n))
                template_node_free (&n);
        } else if (s_is_op (p, "|") || s_is_name (p, "is")) {
            s_next (p);
            n = s_filter_or_test (p, n, tk->type == TK_NAME);
        } else
            break;
        if (n && p->pos > 0 && p->tk[p->pos - 1].end > n->end)
            n->end = p->tk[p->pos - 1].end;
    }
    return n;
}

static node_t *
s_unary (parser_t *p)
{
    tk_t *tk = s_peek (p);
    if (s_is_op (p, "-") || s_is_op (p, "+")) {
        s_next (p);
        node_t *n = s_make (p, N_UNARY, tk, s_unary (p), NULL);
        if (n) {
            strcpy (n->op, tk->text);
            n->start = tk->start;
        }
        return s_postfix (p, n);
    }
    return s_postfix (p, s_primary (p));
}

//  Binary levels, loosest last. Returns the level's operator at the
//  current token, or NULL.
static const char *
s_binary_op (parser_t *p, int level)
{
    static const char *const levels[][5] = {
        {"~", NULL}, {"+", "-", NULL}, {"*", "/", "//", "%", NULL}, {"**", NULL}};
    tk_t *tk = s_peek (p);
    if (tk->type != TK_OP)
        return NULL;
    for (const char *const *op = levels[level]; *op; op++)
        if (strcmp (tk->text, *op) == 0)
            return *op;
    return NULL;
}

static node_t *
s_binary (parser_t *p, int level)
{
    if (++p->depth > TEMPLATE_MAX_DEPTH) {
        p->depth--;
        return s_fail (p, s_peek (p), "expression nested deeper than %d levels",
                       TEMPLATE_MAX_DEPTH);
    }
    node_t *n = level == 3 ? s_unary (p) : s_binary (p, level + 1);
    const char *op;
    while (n && (op = s_binary_op (p, level))) {
        tk_t *tk = s_next (p);
        node_t *right = level == 3 ? s_unary (p) : s_binary (p, level + 1);
        if (!right) {
            template_node_free (&n);
            break;
        }
        n = s_make (p, N_BINARY, tk, n, right);
        if (n)
            strcpy (n->op, op);
    }
    p->depth--;
    return n;
}

//  ==, !=, <, >, <=, >=, in, not in (chained as Python does)
static const char *
s_compare_op (parser_t *p)
{
    static const char *const ops[] = {"==", "!=", "<", ">", "<=", ">=", NULL};
    tk_t *tk = s_peek (p);
    if (tk->type == TK_OP)
        for (const char *const *op = ops; *op; op++)
            if (strcmp (tk->text, *op) == 0)
                return *op;
    if (s_is_name (p, "in"))
        return "in";
    if (s_is_name (p, "not") && p->tk[p->pos + 1].type == TK_NAME &&
        strcmp (p->tk[p->pos + 1].text, "in") == 0)
        return "nin";
    return NULL;
}

static node_t *
s_compare (parser_t *p)
{
    node_t *n = s_binary (p, 0);
    const char *op;
    if (!n || !(op = s_compare_op (p)))
        return n;
    node_t *cmp = s_make (p, N_COMPARE, s_peek (p), n, NULL);
    while (cmp && (op = s_compare_op (p))) {
        s_next (p);
        if (strcmp (op, "nin") == 0)
            s_next (p);
        char (*ops)[4] = (char (*)[4])realloc (cmp->ops, cmp->count * sizeof *ops);
        node_t *right = ops ? s_binary (p, 0) : NULL;
        if (ops)
            cmp->ops = ops;
        if (!right || template_node_add (cmp, right, NULL)) {
            template_node_free (&right);
            template_node_free (&cmp);
            break;
        }
        strcpy (cmp->ops[cmp->count - 2], op);
    }
    return cmp;
}

static node_t *
s_not (parser_t *p)
{
    if (s_is_name (p, "not")) {
        tk_t *tk = s_next (p);
        return s_make (p, N_NOT, tk, s_not (p), NULL);
    }
    return s_compare (p);
}

static node_t *
s_logic (parser_t *p, bool or)
{
    node_t *n = or ? s_logic (p, false) : s_not (p);
    while (n && s_is_name (p, or ? "or" : "and")) {
        tk_t *tk = s_next (p);
        node_t *right = or ? s_logic (p, false) : s_not (p);
        if (!right) {
            template_node_free (&n);
            break;
        }
        n = s_make (p, or ? N_OR : N_AND, tk, n, right);
    }
    return n;
}

static node_t *
s_expression (parser_t *p)
{
    if (++p->depth > TEMPLATE_MAX_DEPTH) {
        p->depth--;
        return s_fail (p, s_peek (p), "expression nested deeper than %d levels",
                       TEMPLATE_MAX_DEPTH);
    }
    node_t *n = s_logic (p, true);
    while (n && s_is_name (p, "if")) { //  a if c else b
        tk_t *tk = s_next (p);
        node_t *cond = s_logic (p, true);
        node_t *other = NULL;
        if (cond && s_is_name (p, "else")) {
            s_next (p);
            if (!(other = s_logic (p, true)))
                template_node_free (&cond);
        }
        node_t *c = cond ? s_make (p, N_COND, tk, cond, n) : NULL;
        if (c && template_node_add (c, other, NULL) == 0)
            other = NULL;
        template_node_free (&other);
        if (!cond)
            template_node_free (&n);
        n = c;
    }
    p->depth--;
    return n;
}

//  Statements -----------------------------------------------------------------

static bool
s_expect_end (parser_t *p, tk_type_t type)
{
    tk_t *tk = s_peek (p);
    if (tk->type == type) {
        s_next (p);
        return true;
    }
    s_fail (p, tk, "expected '%s', found %s%.40s%s", type == TK_VAR_END ? "}}" : "%}",
            tk->text ? "'" : "", tk->text ? tk->text : "the template's end",
            tk->text ? "'" : "");
    return false;
}

//  Add `kid` to `n` or free both. false on failure.
static bool
s_adopt (parser_t *p, node_t **n, node_t *kid)
{
    if (!*n || !kid || template_node_add (*n, kid, NULL)) {
        if (*n && kid && !*p->error)
            s_fail (p, s_peek (p), "out of memory");
        template_node_free (&kid);
        template_node_free (n);
        return false;
    }
    return true;
}

//  {% if %} after the keyword, through {% endif %}.
static node_t *
s_if (parser_t *p, const tk_t *at)
{
    static const char *const ends[] = {"elif", "else", "endif", NULL};
    static const char *const endif[] = {"endif", NULL};
    node_t *n = template_node_new (N_IF, at);
    for (;;) {
        if (!s_adopt (p, &n, s_expression (p)) || !s_expect_end (p, TK_BLOCK_END) ||
            !s_adopt (p, &n, s_body (p, ends)))
            break;
        tk_t *kw = s_next (p);
        if (!strcmp (kw->text, "elif"))
            continue;
        if (!strcmp (kw->text, "else")) {
            if (!s_expect_end (p, TK_BLOCK_END) || !s_adopt (p, &n, s_body (p, endif)))
                break;
            s_next (p);
        }
        if (s_expect_end (p, TK_BLOCK_END))
            return n;
        template_node_free (&n);
        return NULL;
    }
    template_node_free (&n);
    return NULL;
}

//  {% for x[, y] in xs [if c] %} after the keyword, through {% endfor %}.
static node_t *
s_for (parser_t *p, const tk_t *at)
{
    static const char *const ends[] = {"else", "endfor", NULL};
    static const char *const endfor[] = {"endfor", NULL};
    node_t *n = template_node_new (N_FOR, at);
    tk_t *first = s_next (p);
    tk_t *second = NULL;
    if (s_is_op (p, ",")) {
        s_next (p);
        second = s_next (p);
    }
    if (!n || first->type != TK_NAME || (second && second->type != TK_NAME) ||
        !s_is_name (p, "in")) {
        template_node_free (&n);
        return s_fail (p, first, "expected {%% for NAME[, NAME] in EXPRESSION %%}");
    }
    s_next (p);
    n->name = strdup (first->text);
    n->name2 = second ? strdup (second->text) : NULL;
    node_t *filter = NULL;
    if (!s_adopt (p, &n, s_logic (p, true)))
        return NULL;
    if (s_is_name (p, "if") && (s_next (p), !(filter = s_expression (p)))) {
        template_node_free (&n);
        return NULL;
    }
    if (!s_expect_end (p, TK_BLOCK_END) || !s_adopt (p, &n, s_body (p, ends))) {
        template_node_free (&filter);
        template_node_free (&n);
        return NULL;
    }
    template_node_add (n, filter, NULL);
    tk_t *kw = s_next (p);
    node_t *orelse = NULL;
    if (!strcmp (kw->text, "else")) {
        if (!s_expect_end (p, TK_BLOCK_END) || !(orelse = s_body (p, endfor))) {
            template_node_free (&n);
            return NULL;
        }
        s_next (p);
    }
    if (template_node_add (n, orelse, NULL))
        template_node_free (&orelse);
    if (s_expect_end (p, TK_BLOCK_END))
        return n;
    template_node_free (&n);
    return NULL;
}

//  {% set name = expr %} after the keyword.
static node_t *
s_set (parser_t *p, const tk_t *at)
{
    tk_t *name = s_next (p);
    if (name->type != TK_NAME || !s_expect_op (p, "="))
        return s_fail (p, name, "expected {%% set NAME = EXPRESSION %%}");
    node_t *n = template_node_new (N_SET, at);
    if (n)
        n->name = strdup (name->text);
    if (!s_adopt (p, &n, s_expression (p)) || !s_expect_end (p, TK_BLOCK_END)) {
        template_node_free (&n);
        return NULL;
    }
    return n;
}

//  One {% statement %} after its {%.
static node_t *
s_statement (parser_t *p)
{
    tk_t *kw = s_next (p);
    if (kw->type == TK_NAME && !strcmp (kw->text, "if"))
        return s_if (p, kw);
    if (kw->type == TK_NAME && !strcmp (kw->text, "for"))
        return s_for (p, kw);
    if (kw->type == TK_NAME && !strcmp (kw->text, "set"))
        return s_set (p, kw);
    if (kw->type == TK_NAME && (!strncmp (kw->text, "end", 3) ||
                                !strcmp (kw->text, "else") || !strcmp (kw->text, "elif")))
        return s_fail (p, kw, "unexpected '%s'", kw->text);
    return s_fail (p, kw, "unknown statement %s%.40s%s (if, for, set)",
                   kw->text ? "'" : "", kw->text ? kw->text : "(none)",
                   kw->text ? "'" : "");
}

static bool
s_ends_at (parser_t *p, const char *const *ends)
{
    tk_t *tk = s_peek (p);
    if (tk->type != TK_BLOCK_BEGIN || p->tk[p->pos + 1].type != TK_NAME)
        return false;
    for (const char *const *e = ends; *e; e++)
        if (strcmp (p->tk[p->pos + 1].text, *e) == 0)
            return true;
    return false;
}

//  One body item at the current token. NULL with error.
static node_t *
s_item (parser_t *p)
{
    tk_t *tk = s_next (p);
    if (tk->type == TK_TEXT) {
        node_t *n = template_node_new (N_TEXT, tk);
        if (n && !(n->value = json_stringn (tk->text, tk->length)))
            template_node_free (&n);
        return n ? n : s_fail (p, tk, "text is not valid UTF-8");
    }
    if (tk->type == TK_VAR_BEGIN) {
        node_t *n = s_make (p, N_OUTPUT, tk, s_expression (p), NULL);
        if (n && !s_expect_end (p, TK_VAR_END))
            template_node_free (&n);
        return n;
    }
    if (tk->type == TK_BLOCK_BEGIN)
        return s_statement (p);
    if (tk->type == TK_YAQL) {
        node_t *expression = template_yaql_parse (p->name, p->text, tk->start, tk->end,
                                                  tk->line, tk->col, p->error);
        node_t *n = s_make (p, N_OUTPUT, tk, expression, NULL);
        if (n)
            n->yaql = true;
        return n;
    }
    return s_fail (p, tk, "unexpected token");
}

//  Items up to EOF (`ends` empty) or a {% tag %} named in `ends` (left
//  at its {%).
static node_t *
s_body (parser_t *p, const char *const *ends)
{
    tk_t *at = s_peek (p);
    if (++p->depth > TEMPLATE_MAX_DEPTH) {
        p->depth--;
        return s_fail (p, at, "blocks nested deeper than %d levels", TEMPLATE_MAX_DEPTH);
    }
    node_t *body = template_node_new (N_BODY, at);
    while (body && !s_ends_at (p, ends)) {
        if (s_peek (p)->type == TK_EOF) {
            if (*ends) {
                const char *const *last = ends;
                while (last[1])
                    last++;
                s_fail (p, s_peek (p), "missing {%% %s %%} (the block opened at line %d)",
                        *last, at->line);
                template_node_free (&body);
            }
            break;
        }
        s_adopt (p, &body, s_item (p));
    }
    if (body && *ends)
        s_next (p); //  past the {% of the end tag: its keyword is next
    p->depth--;
    return body;
}

node_t *
template_parse (const char *name, const char *text, tk_list_t *tokens, char **error)
{
    static const char *const none[] = {NULL};
    parser_t p = {name, text, tokens->items, 0, tokens->count, error, 0};
    node_t *body = s_body (&p, none);
    if (!body && !*error)
        *error = strdup ("out of memory");
    return body;
}
