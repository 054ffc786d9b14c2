/*  worker_http: the http-request runner (worker_http.h). */
#include "actors/worker/worker_http.h"

#include <curl/curl.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <strings.h>

typedef struct {
    worker_task_t *task; //  NULL when run directly (tests)
    char *body;
    size_t size;
    bool truncated;
    json_t *headers; //  the last response's (a redirect starts a new one)
} s_response_t;

static pthread_once_t s_once = PTHREAD_ONCE_INIT;

static void
s_global_init (void)
{
    curl_global_init (CURL_GLOBAL_DEFAULT);
}

static size_t
s_on_body (char *data, size_t size, size_t count, void *arg)
{
    s_response_t *r = (s_response_t *)arg;
    size_t n = size * count;
    size_t room = WORKER_HTTP_BODY_CAP - r->size;
    if (n > room) {
        r->truncated = true;
        n = room;
    }
    char *grown = (char *)realloc (r->body, r->size + n + 1);
    if (!grown)
        return 0;
    r->body = grown;
    memcpy (r->body + r->size, data, n);
    r->size += n;
    r->body[r->size] = 0;
    return r->truncated ? 0 : size * count; //  cut: the transfer stops here
}

//  "Name: value" lines; a status line starts the headers again (redirects,
//  100 Continue). A name seen twice gets its values joined with ", ".
static size_t
s_on_header (char *data, size_t size, size_t count, void *arg)
{
    s_response_t *r = (s_response_t *)arg;
    size_t n = size * count;
    if (n >= 5 && strncmp (data, "HTTP/", 5) == 0) {
        json_object_clear (r->headers);
        return n;
    }
    const char *colon = (const char *)memchr (data, ':', n);
    if (!colon || colon == data)
        return n;
    size_t end = n;
    while (end > 0 && (data[end - 1] == '\r' || data[end - 1] == '\n'))
        end--;
    const char *value = colon + 1;
    while (value < data + end && (*value == ' ' || *value == '\t'))
        value++;
    char *name = strndup (data, (size_t)(colon - data));
    json_t *text = json_stringn (value, (size_t)(data + end - value));
    if (name && text) {
        json_t *before = json_object_get (r->headers, name);
        if (json_is_string (before)) {
            json_t *joined = json_sprintf ("%s, %s", json_string_value (before),
                                           json_string_value (text));
            json_decref (text);
            text = joined;
        }
        if (text)
            json_object_set_new (r->headers, name, text);
    } else
        json_decref (text);
    free (name);
    return n;
}

static int
s_on_progress (void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    s_response_t *r = (s_response_t *)arg;
    return r->task && worker_task_aborted (r->task) ? 1 : 0;
}

static bool
s_has_crlf (const char *text)
{
    return strpbrk (text, "\r\n") != NULL;
}

//  The value of a parameter as text: a string as it is, else its JSON.
static char *
s_text (const json_t *value)
{
    if (json_is_string (value))
        return strdup (json_string_value (value));
    return json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY);
}

//  name=value&... of an object, each part escaped. Caller frees.
static char *
s_form (CURL *curl, const json_t *object)
{
    char *out = strdup ("");
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *)object, key, value)
    {
        char *text = s_text (value);
        char *k = curl_easy_escape (curl, key, 0);
        char *v = text ? curl_easy_escape (curl, text, 0) : NULL;
        char *next =
            out && k && v ? zsys_sprintf ("%s%s%s=%s", out, *out ? "&" : "", k, v) : NULL;
        free (out);
        out = next;
        curl_free (k);
        curl_free (v);
        free (text);
    }
    return out;
}

//  Content-Type of the request headers, NULL if none.
static const char *
s_content_type (const json_t *headers)
{
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *)headers, key,
                         value) if (strcasecmp (key, "content-type") ==
                                    0) return json_string_value (value);
    return NULL;
}

//  The request headers, refusing any that would split a header line.
static int
s_headers (const json_t *headers, struct curl_slist **list, char *message, size_t size)
{
    bool agent = false;
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *)headers, key, value)
    {
        char *text = s_text (value);
        if (!text || s_has_crlf (key) || s_has_crlf (text) || strchr (key, ':')) {
            snprintf (message, size, "headers: '%.64s' is not a valid header", key);
            free (text);
            return -1;
        }
        agent = agent || strcasecmp (key, "user-agent") == 0;
        char *line = zsys_sprintf ("%s: %s", key, text);
        *list = curl_slist_append (*list, line);
        free (line);
        free (text);
    }
    if (!agent)
        *list = curl_slist_append (*list, "User-Agent: attune");
    return 0;
}

//  The URL with its query parameters. Caller frees.
static char *
s_url (CURL *curl, const char *url, const json_t *params)
{
    if (!json_is_object (params) || json_object_size (params) == 0)
        return strdup (url);
    char *query = s_form (curl, params);
    char *full =
        query ? zsys_sprintf ("%s%s%s", url, strchr (url, '?') ? "&" : "?", query) : NULL;
    free (query);
    return full;
}

//  The request body (NULL: none). Caller frees.
static char *
s_body (CURL *curl, const json_t *body, const json_t *headers)
{
    if (!body || json_is_null (body))
        return NULL;
    if (json_is_string (body))
        return strdup (json_string_value (body));
    const char *type = s_content_type (headers);
    if (json_is_object (body) &&
        !(type && strncasecmp (type, "application/json", 16) == 0))
        return s_form (curl, body);
    return json_dumps (body, JSON_COMPACT | JSON_ENCODE_ANY);
}

static bool
s_listed (const json_t *list, const char *host)
{
    size_t i;
    json_t *item;
    json_array_foreach (list, i, item) if (json_is_string (item) &&
                                           strcasecmp (json_string_value (item), host) ==
                                               0) return true;
    return false;
}

//  url_hosts_blacklist / url_hosts_whitelist (StackStorm's, exclusive): the
//  URL's host checked against them. 0, or -1 with `message`.
static int
s_host_allowed (const char *url, const json_t *p, char *message, size_t size)
{
    const json_t *deny = json_object_get (p, "url_hosts_blacklist");
    const json_t *allow = json_object_get (p, "url_hosts_whitelist");
    if (json_array_size (deny) == 0 && json_array_size (allow) == 0)
        return 0;
    if (json_array_size (deny) && json_array_size (allow)) {
        snprintf (message, size,
                  "url_hosts_blacklist and url_hosts_whitelist are "
                  "mutually exclusive: give one");
        return -1;
    }
    CURLU *parsed = curl_url ();
    char *host = NULL;
    if (!parsed || curl_url_set (parsed, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get (parsed, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        snprintf (message, size, "url: not a URL");
    else if (json_array_size (deny) && s_listed (deny, host))
        snprintf (message, size, "url: host %.200s is blacklisted", host);
    else if (json_array_size (allow) && !s_listed (allow, host))
        snprintf (message, size, "url: host %.200s is not whitelisted", host);
    else
        *message = 0;
    curl_free (host);
    curl_url_cleanup (parsed);
    return *message ? -1 : 0;
}

typedef struct {
    char *url;
    char *body;
    char *cookies;
    struct curl_slist *headers;
    curl_mime *mime; //  a file upload
} s_request_t;

static bool
s_flag (const json_t *parameters, const char *name, bool otherwise)
{
    const json_t *value = json_object_get (parameters, name);
    return json_is_boolean (value) ? json_is_true (value) : otherwise;
}

static const char *
s_string (const json_t *parameters, const char *name)
{
    const char *value = json_string_value (json_object_get (parameters, name));
    return value && *value ? value : NULL;
}

//  A file upload, as StackStorm's http runner takes it (file_name with
//  file_content, file_content_type), or attune's file_path (a file on the
//  worker's host, read when sent; StackStorm's CLI reads it instead): a
//  multipart/form-data body whose part `file_name` (else the file's base
//  name) holds the file, and whose other parts are `body`'s keys (an
//  object). 1 when there is no upload, 0, or -1 with `message`.
static int
s_upload (CURL *curl, const json_t *p, s_request_t *req, char *message, size_t size)
{
    const char *path = s_string (p, "file_path"), *name = s_string (p, "file_name");
    const json_t *content = json_object_get (p, "file_content");
    if (!(name && json_is_string (content)) && !path)
        return 1;
    const json_t *body = json_object_get (p, "body");
    if (body && !json_is_null (body) && !json_is_object (body) &&
        !(json_is_string (body) && !*json_string_value (body))) {
        snprintf (message, size,
                  "body: with a file, give the form's fields as an object");
        return -1;
    }
    const char *slash = path ? strrchr (path, '/') : NULL;
    const char *base = name ? name : slash ? slash + 1 : path;
    req->mime = curl_mime_init (curl);
    curl_mimepart *part = req->mime ? curl_mime_addpart (req->mime) : NULL;
    if (!part) {
        snprintf (message, size, "http-request: out of memory");
        return -1;
    }
    curl_mime_name (part, base);
    curl_mime_filename (part, base);
    if (name && json_is_string (content))
        curl_mime_data (part, json_string_value (content), json_string_length (content));
    else if (access (path, R_OK) != 0 || curl_mime_filedata (part, path) != CURLE_OK) {
        snprintf (message, size, "file_path: cannot read %.200s: %s", path,
                  strerror (errno));
        return -1;
    }
    curl_mime_filename (part, base); //  filedata set the path's base name
    const char *type = s_string (p, "file_content_type");
    if (type)
        curl_mime_type (part, type);
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *)body, key, value)
    {
        char *text = s_text (value);
        curl_mimepart *field = curl_mime_addpart (req->mime);
        curl_mime_name (field, key);
        curl_mime_data (field, text ? text : "", CURL_ZERO_TERMINATED);
        free (text);
    }
    curl_easy_setopt (curl, CURLOPT_MIMEPOST, req->mime);
    return 0;
}

//  Method, body, auth, TLS, proxies, redirects. 0, or -1 with `message`.
static int
s_configure (CURL *curl, const json_t *p, s_request_t *req, char *message, size_t size)
{
    const json_t *headers = json_object_get (p, "headers");
    if (s_headers (headers, &req->headers, message, size) != 0)
        return -1;
    int upload = s_upload (curl, p, req, message, size);
    if (upload < 0)
        return -1;
    if (upload == 1)
        req->body = s_body (curl, json_object_get (p, "body"), headers);
    const char *method = s_string (p, "method");
    char upper[16];
    snprintf (upper, sizeof upper, "%s",
              method                   ? method
              : req->body || req->mime ? "POST"
                                       : "GET");
    for (char *c = upper; *c; c++)
        *c = (char)toupper ((unsigned char)*c);
    if (strspn (upper, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen (upper) || !*upper) {
        snprintf (message, size, "method: '%.16s' is not an HTTP method", upper);
        return -1;
    }
    if (streq (upper, "HEAD"))
        curl_easy_setopt (curl, CURLOPT_NOBODY, 1L);
    else if (!streq (upper, "GET") || req->body || req->mime)
        curl_easy_setopt (curl, CURLOPT_CUSTOMREQUEST, upper);
    if (req->body) {
        curl_easy_setopt (curl, CURLOPT_POSTFIELDS, req->body);
        curl_easy_setopt (curl, CURLOPT_POSTFIELDSIZE, (long)strlen (req->body));
    }
    curl_easy_setopt (curl, CURLOPT_HTTPHEADER, req->headers);
    const json_t *cookies = json_object_get (p, "cookies");
    if (json_is_object (cookies) && json_object_size (cookies)) {
        req->cookies = s_form (curl, cookies);
        for (char *c = req->cookies; c && *c; c++)
            if (*c == '&')
                *c = ';';
        curl_easy_setopt (curl, CURLOPT_COOKIE, req->cookies);
    }
    const char *user = s_string (p, "username"), *password = s_string (p, "password");
    const char *auth = s_string (p, "auth");
    if (user || password) {
        curl_easy_setopt (curl, CURLOPT_USERNAME, user ? user : "");
        curl_easy_setopt (curl, CURLOPT_PASSWORD, password ? password : "");
        curl_easy_setopt (curl, CURLOPT_HTTPAUTH,
                          auth && strcasecmp (auth, "digest") == 0 ? CURLAUTH_DIGEST
                                                                   : CURLAUTH_BASIC);
    }
    const json_t *verify = json_object_get (p, "verify_ssl_cert");
    if (json_is_string (verify))
        curl_easy_setopt (curl, CURLOPT_CAINFO, json_string_value (verify));
    else if (json_is_false (verify)) {
        curl_easy_setopt (curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt (curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    const char *proxy = s_string (p, "proxy");
    if (!proxy)
        proxy = s_string (p, strncasecmp (req->url, "https:", 6) == 0 ? "https_proxy"
                                                                      : "http_proxy");
    if (proxy)
        curl_easy_setopt (curl, CURLOPT_PROXY, proxy);
    if (s_flag (p, "allow_redirects", false)) {
        curl_easy_setopt (curl, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt (curl, CURLOPT_MAXREDIRS, 10L);
    }
    return 0;
}

//  {status_code, body, parsed, headers} of a response.
static json_t *
s_result (s_response_t *r, long code)
{
    json_t *body = NULL;
    bool parsed = false;
    const char *type = NULL;
    const char *key;
    json_t *value;
    json_object_foreach (r->headers, key, value) if (strcasecmp (key, "content-type") ==
                                                     0) type = json_string_value (value);
    if (type && !r->truncated) {
        size_t len = strcspn (type, "; ");
        if (len == 16 && strncasecmp (type, "application/json", 16) == 0) {
            body = json_loadb (r->body ? r->body : "", r->size, JSON_DECODE_ANY, NULL);
            parsed = body != NULL;
        }
    }
    if (!body)
        body = json_stringn (r->body ? r->body : "", r->size);
    if (!body)
        body = json_sprintf ("<%zu bytes, not UTF-8>", r->size);
    json_t *result = json_pack ("{s:i, s:o, s:b, s:O}", "status_code", (int)code, "body",
                                body, "parsed", parsed, "headers", r->headers);
    if (r->truncated)
        json_object_set_new (result, "body_truncated", json_true ());
    return result;
}

static double
s_timeout_s (const json_t *parameters)
{
    const json_t *value = json_object_get (parameters, "timeout");
    double seconds = json_is_number (value) ? json_number_value (value) : 0;
    return seconds > 0 ? seconds : WORKER_HTTP_TIMEOUT_S;
}

json_t *
worker_http_run (worker_task_t *task, const json_t *parameters, const json_t *action,
                 const char **status)
{
    pthread_once (&s_once, s_global_init);
    *status = "failed";
    const char *url = s_string (parameters, "url");
    char message[CURL_ERROR_SIZE + 64] = "";
    if (!url)
        return json_pack ("{s:s}", "error", "http-request: no 'url'");
    if (s_host_allowed (url, parameters, message, sizeof message) != 0)
        return json_pack ("{s:s}", "error", message);
    s_response_t response = {.task = task, .headers = json_object ()};
    s_request_t req = {NULL, NULL, NULL, NULL, NULL};
    CURL *curl = curl_easy_init ();
    json_t *result = NULL;
    req.url = curl ? s_url (curl, url, json_object_get (parameters, "params")) : NULL;
    if (!curl || !req.url)
        result = json_pack ("{s:s}", "error", "http-request: out of memory");
    else if (s_configure (curl, parameters, &req, message, sizeof message) != 0)
        result = json_pack ("{s:s}", "error", message);
    if (result)
        goto done;
    char error[CURL_ERROR_SIZE] = "";
    curl_easy_setopt (curl, CURLOPT_URL, req.url);
    curl_easy_setopt (curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt (curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, (long)(s_timeout_s (parameters) * 1000));
    curl_easy_setopt (curl, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, &response);
    curl_easy_setopt (curl, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt (curl, CURLOPT_HEADERDATA, &response);
    curl_easy_setopt (curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt (curl, CURLOPT_XFERINFOFUNCTION, s_on_progress);
    curl_easy_setopt (curl, CURLOPT_XFERINFODATA, &response);
    CURLcode rc = curl_easy_perform (curl);
    long code = 0;
    curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &code);
    if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && response.truncated)) {
        result = s_result (&response, code);
        *status = code >= 200 && code <= 206 ? "completed" : "failed";
    } else {
        result = json_pack ("{s:s}", "error", *error ? error : curl_easy_strerror (rc));
        *status = rc == CURLE_OPERATION_TIMEDOUT    ? "timeout"
                  : rc == CURLE_ABORTED_BY_CALLBACK ? "cancelled"
                                                    : "failed";
    }
done:
    curl_easy_cleanup (curl);
    curl_slist_free_all (req.headers);
    free (req.url);
    free (req.body);
    free (req.cookies);
    curl_mime_free (req.mime);
    free (response.body);
    json_decref (response.headers);
    return result;
}
