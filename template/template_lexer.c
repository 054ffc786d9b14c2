/*  template_lexer: Jinja source to tokens, with StackStorm's whitespace
    rules (trim_blocks, lstrip_blocks) and Jinja's - and + markers. */
#include "template/template_ast.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    const char *text;
    size_t pos;
    int line, col; //  of pos
    tk_list_t *tokens;
    char **error;
    bool lstrip_next;  //  a -}} / -%} asks the next text to lose its blanks
    unsigned flags;    //  TEMPLATE_YAQL: <% %> opens a tag too
    size_t last_close; //  where the text's last %> starts (0: none)
} lexer_t;

char *
template_error (const char *name, int line, int col, const char *format, va_list args)
{
    char what[512];
    vsnprintf (what, sizeof what, format, args);
    char *message = NULL;
    if (asprintf (&message, "template '%s' line %d column %d: %s", name ? name : "", line,
                  col, what) < 0)
        return NULL;
    return message;
}

static int
s_fail (lexer_t *l, int line, int col, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    if (!*l->error)
        *l->error = template_error (l->name, line, col, format, args);
    va_end (args);
    return -1;
}

//  Move pos to `to`, counting lines and columns.
static void
s_advance (lexer_t *l, size_t to)
{
    for (; l->pos < to; l->pos++) {
        if (l->text[l->pos] == '\n') {
            l->line++;
            l->col = 1;
        } else if (((unsigned char)l->text[l->pos] & 0xC0) != 0x80)
            l->col++;
    }
}

tk_t *
template_token_push (tk_list_t *t, tk_type_t type, int line, int col, size_t start,
                     size_t end)
{
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        tk_t *grown = (tk_t *)realloc (t->items, cap * sizeof *grown);
        if (!grown)
            return NULL;
        t->items = grown;
        t->cap = cap;
    }
    tk_t *tk = &t->items[t->count++];
    memset (tk, 0, sizeof *tk);
    tk->type = type;
    tk->line = line;
    tk->col = col;
    tk->start = start;
    tk->end = end;
    return tk;
}

static tk_t *
s_push (lexer_t *l, tk_type_t type, size_t start, size_t end)
{
    return template_token_push (l->tokens, type, l->line, l->col, start, end);
}

static tk_t *
s_push_text (lexer_t *l, tk_type_t type, size_t start, size_t end, const char *text,
             size_t n)
{
    tk_t *tk = s_push (l, type, start, end);
    if (!tk)
        return NULL;
    tk->text = (char *)malloc (n + 1);
    if (!tk->text)
        return NULL;
    memcpy (tk->text, text, n);
    tk->text[n] = 0;
    tk->length = n;
    return tk;
}

//  The next tag opening at or after pos: its offset, or the text's end.
static size_t
s_next_tag (const lexer_t *l)
{
    const char *p = l->text + l->pos;
    const char *opens = l->flags & TEMPLATE_YAQL ? "{<" : "{";
    for (p += strcspn (p, opens); *p; p += 1 + strcspn (p + 1, opens))
        if (*p == '<' ? p[1] == '%' && (size_t)(p - l->text) + 2 <= l->last_close
                      : (p[1] == '{' || p[1] == '%' || p[1] == '#'))
            return (size_t)(p - l->text);
    return (size_t)(p - l->text);
}

//  The kind of the tag at `open`: '{', '%', '#', or '<' for <% %>.
static char
s_kind (const lexer_t *l, size_t open)
{
    return l->text[open] == '<' ? '<' : l->text[open + 1];
}

//  Text from pos to `open` (a tag of kind `kind` or the end), trimmed as
//  the markers and lstrip_blocks say. 0 or -1.
static int
s_text (lexer_t *l, size_t open, char kind)
{
    size_t start = l->pos, end = open;
    if (l->lstrip_next)
        while (start < end && isspace ((unsigned char)l->text[start]))
            start++;
    l->lstrip_next = false;
    char marker = kind && kind != '<' ? l->text[open + 2] : 0;
    if (kind && marker == '-')
        while (end > start && isspace ((unsigned char)l->text[end - 1]))
            end--;
    else if ((kind == '%' || kind == '#') && marker != '+') {
        size_t line = end; //  lstrip_blocks: blanks from the line's start
        while (line > start && (l->text[line - 1] == ' ' || l->text[line - 1] == '\t'))
            line--;
        if (line == 0 || l->text[line - 1] == '\n')
            end = line;
    }
    s_advance (l, start);
    if (end > start &&
        !s_push_text (l, TK_TEXT, start, end, l->text + start, end - start))
        return s_fail (l, l->line, l->col, "out of memory");
    s_advance (l, open);
    return 0;
}

//  A quoted string at pos. 0 or -1.
static int
s_string (lexer_t *l)
{
    const char *p = l->text + l->pos;
    char quote = *p++;
    char *out = (char *)malloc (strlen (p) + 1);
    size_t n = 0;
    if (!out)
        return s_fail (l, l->line, l->col, "out of memory");
    for (; *p && *p != quote; p++) {
        if (*p != '\\' || !p[1]) {
            out[n++] = *p;
            continue;
        }
        p++;
        const char *escapes = "n\nt\tr\r\\\\''\"\"";
        const char *e = strchr (escapes, *p);
        if (e && *p && ((e - escapes) % 2) == 0)
            out[n++] = e[1];
        else {
            out[n++] = '\\';
            out[n++] = *p;
        }
    }
    if (*p != quote) {
        free (out);
        return s_fail (l, l->line, l->col, "unterminated string");
    }
    size_t end = (size_t)(p + 1 - l->text);
    tk_t *tk = s_push (l, TK_STRING, l->pos, end);
    if (!tk) {
        free (out);
        return s_fail (l, l->line, l->col, "out of memory");
    }
    out[n] = 0;
    tk->text = out;
    tk->length = n;
    s_advance (l, end);
    return 0;
}

//  A number at pos. 0 or -1.
static int
s_number (lexer_t *l)
{
    const char *start = l->text + l->pos, *p = start;
    bool real = false;
    while (isdigit ((unsigned char)*p) || *p == '_')
        p++;
    if (*p == '.' && isdigit ((unsigned char)p[1])) {
        real = true;
        for (p++; isdigit ((unsigned char)*p) || *p == '_'; p++)
            ;
    }
    if ((*p == 'e' || *p == 'E') &&
        (isdigit ((unsigned char)p[1]) ||
         ((p[1] == '-' || p[1] == '+') && isdigit ((unsigned char)p[2])))) {
        real = true;
        for (p += 2; isdigit ((unsigned char)*p); p++)
            ;
    }
    char digits[64];
    size_t n = 0;
    for (const char *q = start; q < p && n < sizeof digits - 1; q++)
        if (*q != '_')
            digits[n++] = *q;
    digits[n] = 0;
    tk_t *tk = s_push (l, real ? TK_FLOAT : TK_INT, l->pos, (size_t)(p - l->text));
    if (!tk)
        return s_fail (l, l->line, l->col, "out of memory");
    errno = 0;
    if (real)
        tk->real = strtod (digits, NULL);
    else
        tk->integer = strtoll (digits, NULL, 10);
    if (errno)
        return s_fail (l, l->line, l->col, "number out of range: %s", digits);
    s_advance (l, (size_t)(p - l->text));
    return 0;
}

//  Tokens inside a tag up to its closing `close` ("}}" or "%}"). 0 or -1.
static int
s_inside (lexer_t *l, const char *close, tk_type_t end_type)
{
    static const char *const ops[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*",
                                      "/",  "%",  "~",  "<",  ">",  "=",  "(", ")", "[",
                                      "]",  "{",  "}",  ",",  ".",  ":",  "|", NULL};
    int depth = 0;
    for (;;) {
        const char *p = l->text + l->pos;
        while (isspace ((unsigned char)*p))
            p++;
        s_advance (l, (size_t)(p - l->text));
        if (!*p)
            return s_fail (l, l->line, l->col, "missing '%s'", close);
        bool dash = *p == '-' && strncmp (p + 1, close, 2) == 0;
        if (depth == 0 && (dash || strncmp (p, close, 2) == 0)) {
            size_t end = (size_t)(p - l->text) + (dash ? 3 : 2);
            if (!s_push (l, end_type, l->pos, end))
                return s_fail (l, l->line, l->col, "out of memory");
            s_advance (l, end);
            l->lstrip_next = dash;
            return 0;
        }
        if (*p == '\'' || *p == '"') {
            if (s_string (l))
                return -1;
        } else if (isdigit ((unsigned char)*p)) {
            if (s_number (l))
                return -1;
        } else if (isalpha ((unsigned char)*p) || *p == '_') {
            const char *q = p;
            while (isalnum ((unsigned char)*q) || *q == '_')
                q++;
            if (!s_push_text (l, TK_NAME, l->pos, (size_t)(q - l->text), p,
                              (size_t)(q - p)))
                return s_fail (l, l->line, l->col, "out of memory");
            s_advance (l, (size_t)(q - l->text));
        } else {
            const char *const *op = ops;
            while (*op && strncmp (p, *op, strlen (*op)) != 0)
                op++;
            if (!*op)
                return s_fail (l, l->line, l->col, "unexpected character '%c'", *p);
            size_t n = strlen (*op);
            if (!s_push_text (l, TK_OP, l->pos, l->pos + n, *op, n))
                return s_fail (l, l->line, l->col, "out of memory");
            depth += strchr ("([{", **op) ? 1 : strchr (")]}", **op) ? -1 : 0;
            if (depth < 0)
                depth = 0;
            s_advance (l, l->pos + n);
        }
    }
}

//  A {# comment #} at pos. 0 or -1.
static int
s_comment (lexer_t *l)
{
    const char *close = strstr (l->text + l->pos + 2, "#}");
    if (!close)
        return s_fail (l, l->line, l->col, "missing '#}'");
    l->lstrip_next = close[-1] == '-' && close - 1 > l->text + l->pos + 2;
    size_t end = (size_t)(close - l->text) + 2;
    if (l->text[end] == '\n') //  trim_blocks
        end++;
    s_advance (l, end);
    return 0;
}

//  The tag at `p` is {% WORD %} (with - or + markers): the offset just
//  past it, else 0.
static size_t
s_word_tag (const char *text, size_t p, const char *word)
{
    const char *q = text + p;
    if (strncmp (q, "{%", 2) != 0)
        return 0;
    q += 2 + (q[2] == '-' || q[2] == '+');
    q += strspn (q, " \t\r\n");
    if (strncmp (q, word, strlen (word)) != 0)
        return 0;
    q += strlen (word);
    q += strspn (q, " \t\r\n");
    q += *q == '-';
    return strncmp (q, "%}", 2) == 0 ? (size_t)(q + 2 - text) : 0;
}

//  {% raw %}...{% endraw %} at pos: the text between, as it is.
static int
s_raw (lexer_t *l, size_t after)
{
    const char *p = l->text + after;
    size_t end = 0;
    while ((p = strstr (p, "{%")) &&
           !(end = s_word_tag (l->text, (size_t)(p - l->text), "endraw")))
        p += 2;
    if (!p)
        return s_fail (l, l->line, l->col, "missing {%% endraw %%}");
    size_t close = (size_t)(p - l->text), start = after;
    if (l->text[after - 3] == '-') //  {% raw -%}
        while (start < close && isspace ((unsigned char)l->text[start]))
            start++;
    if (p[2] == '-') //  {%- endraw %}
        while (close > start && isspace ((unsigned char)l->text[close - 1]))
            close--;
    after = start;
    s_advance (l, after);
    if (close > after &&
        !s_push_text (l, TK_TEXT, after, close, l->text + after, close - after))
        return s_fail (l, l->line, l->col, "out of memory");
    s_advance (l, end);
    return 0;
}

//  A <% yaql %> block at pos: one TK_YAQL over the expression, whose
//  quoted strings may hold '%>'. 0 or -1.
static int
s_yaql (lexer_t *l)
{
    const char *p = l->text + l->pos + 2;
    while (*p && !(p[0] == '%' && p[1] == '>')) {
        if (*p == '\'' || *p == '"' || *p == '`') {
            char quote = *p++;
            while (*p && *p != quote)
                p += *p == '\\' && p[1] ? 2 : 1;
            if (!*p)
                return s_fail (l, l->line, l->col, "yaql: unterminated string");
        }
        p++;
    }
    if (!*p)
        return s_fail (l, l->line, l->col, "yaql: missing '%%>'");
    s_advance (l, l->pos + 2);
    size_t end = (size_t)(p - l->text);
    if (!s_push (l, TK_YAQL, l->pos, end))
        return s_fail (l, l->line, l->col, "out of memory");
    s_advance (l, end + 2);
    return 0;
}

//  One tag at pos (after its text). 0 or -1.
static int
s_tag (lexer_t *l, char kind)
{
    if (kind == '<')
        return s_yaql (l);
    if (kind == '#')
        return s_comment (l);
    size_t raw = kind == '%' ? s_word_tag (l->text, l->pos, "raw") : 0;
    if (raw)
        return s_raw (l, raw);
    size_t skip = strchr ("-+", l->text[l->pos + 2]) && l->text[l->pos + 2] ? 3 : 2;
    tk_type_t begin = kind == '{' ? TK_VAR_BEGIN : TK_BLOCK_BEGIN;
    if (!s_push (l, begin, l->pos, l->pos + skip))
        return s_fail (l, l->line, l->col, "out of memory");
    s_advance (l, l->pos + skip);
    if (s_inside (l, kind == '{' ? "}}" : "%}", kind == '{' ? TK_VAR_END : TK_BLOCK_END))
        return -1;
    if (kind == '%' && l->text[l->pos] == '\n') //  trim_blocks
        s_advance (l, l->pos + 1);
    else if (kind == '%' && l->text[l->pos] == '\r' && l->text[l->pos + 1] == '\n')
        s_advance (l, l->pos + 2);
    return 0;
}

int
template_lex (const char *name, const char *text, unsigned flags, tk_list_t *tokens,
              char **error)
{
    lexer_t l = {name, text, 0, 1, 1, tokens, error, false, flags, 0};
    size_t length = strlen (text);
    if (length > TEMPLATE_MAX_TEXT)
        return s_fail (&l, 1, 1, "template longer than %d bytes", TEMPLATE_MAX_TEXT);
    //  A <% with no %> after it is text, as Orquesta's pattern <%.*?%> has it
    for (const char *p = text; (flags & TEMPLATE_YAQL) && (p = strstr (p, "%>")); p++)
        l.last_close = (size_t)(p - text);
    while (l.pos < length) {
        size_t open = s_next_tag (&l);
        char kind = open < length ? s_kind (&l, open) : 0;
        if (s_text (&l, open, kind))
            return -1;
        if (kind && s_tag (&l, kind))
            return -1;
    }
    if (!s_push (&l, TK_EOF, length, length))
        return s_fail (&l, l.line, l.col, "out of memory");
    return 0;
}

void
template_tokens_free (tk_list_t *tokens)
{
    for (size_t i = 0; i < tokens->count; i++)
        free (tokens->items[i].text);
    free (tokens->items);
    tokens->items = NULL;
    tokens->count = tokens->cap = 0;
}
