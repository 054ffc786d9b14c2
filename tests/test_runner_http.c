/*  test_runner_http: the http-request runner (worker_http.h) against a
    local HTTP server (Python's http.server, started here on an ephemeral
    loopback port), directly and through the worker actor's thread.
*/
#include <criterion/criterion.h>
#include <signal.h>
#include <sys/wait.h>

#include "actors/worker/worker_http.h"

static pid_t s_server;
static int s_port;
static char s_dir[64];

static const char *s_script =
    "import http.server, json, sys, time\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def log_message(self, *a): pass\n"
    "    def reply(self, code, body, ctype='text/plain', extra=()):\n"
    "        data = body.encode() if isinstance(body, str) else body\n"
    "        self.send_response(code)\n"
    "        self.send_header('Content-Type', ctype)\n"
    "        self.send_header('Content-Length', str(len(data)))\n"
    "        for k, v in extra: self.send_header(k, v)\n"
    "        self.end_headers()\n"
    "        if self.command != 'HEAD': self.wfile.write(data)\n"
    "    def any(self):\n"
    "        n = int(self.headers.get('Content-Length') or 0)\n"
    "        body = self.rfile.read(n).decode() if n else ''\n"
    "        p = self.path\n"
    "        if p.startswith('/status/'): return self.reply(int(p[8:]), 'status ' + "
    "p[8:])\n"
    "        if p == '/json': return self.reply(200, '{\"a\": 1, \"b\": [true]}',\n"
    "                                     'application/json; charset=utf-8')\n"
    "        if p == '/badjson': return self.reply(200, 'not json', 'application/json')\n"
    "        if p == '/slow': time.sleep(3); return self.reply(200, 'late')\n"
    "        if p == '/redirect': return self.reply(302, '', extra=[('Location', "
    "'/json')])\n"
    "        if p == '/big': return self.reply(200, 'x' * (1 << 20))\n"
    "        if p == '/created': return self.reply(201, 'made', extra=[('X-Two', 'a')])\n"
    "        echo = {'method': self.command, 'path': p, 'body': body,\n"
    "                'headers': {k.lower(): v for k, v in self.headers.items()}}\n"
    "        self.reply(200, json.dumps(echo), 'application/json')\n"
    "    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = any\n"
    "s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)\n"
    "open(sys.argv[1] + '.tmp', 'w').write(str(s.server_address[1]))\n"
    "import os; os.rename(sys.argv[1] + '.tmp', sys.argv[1])\n"
    "s.serve_forever()\n";

static void
s_start_server (void)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/attune-http-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
    char script[128], portfile[128];
    snprintf (script, sizeof script, "%s/server.py", s_dir);
    snprintf (portfile, sizeof portfile, "%s/port", s_dir);
    FILE *file = fopen (script, "w");
    fputs (s_script, file);
    fclose (file);
    s_server = fork ();
    if (s_server == 0) {
        execlp ("python3", "python3", script, portfile, (char *)NULL);
        _exit (127);
    }
    for (int i = 0; i < 200 && !s_port; i++) {
        file = fopen (portfile, "r");
        if (file) {
            if (fscanf (file, "%d", &s_port) != 1)
                s_port = 0;
            fclose (file);
        } else
            usleep (25000);
    }
    cr_assert_gt (s_port, 0, "the test server started");
}

static void
s_stop_server (void)
{
    if (s_server > 0) {
        kill (s_server, SIGTERM);
        waitpid (s_server, NULL, 0);
    }
    char command[128];
    snprintf (command, sizeof command, "rm -rf %s", s_dir);
    if (system (command) != 0)
        fprintf (stderr, "cannot remove %s\n", s_dir);
    s_port = 0;
}

TestSuite (runner_http, .init = s_start_server, .fini = s_stop_server, .timeout = 60);

//  Run the runner on `parameters` (taken) for the path; *status set.
static json_t *
s_run (json_t *parameters, const char *path, const char **status)
{
    char url[256];
    snprintf (url, sizeof url, "http://127.0.0.1:%d%s", s_port, path);
    json_object_set_new (parameters, "url", json_string (url));
    json_t *action = json_pack ("{s:s}", "runner_type", "http-request");
    json_t *result = worker_http_run (NULL, parameters, action, status);
    json_decref (parameters);
    json_decref (action);
    cr_assert_not_null (result);
    return result;
}

Test (runner_http, get_json_is_parsed_with_status_and_headers)
{
    const char *status;
    json_t *result = s_run (json_object (), "/json", &status);
    cr_assert_str_eq (status, "completed");
    cr_assert_eq (json_integer_value (json_object_get (result, "status_code")), 200);
    cr_assert (json_is_true (json_object_get (result, "parsed")));
    json_t *body = json_object_get (result, "body");
    cr_assert_eq (json_integer_value (json_object_get (body, "a")), 1);
    cr_assert (json_is_true (json_array_get (json_object_get (body, "b"), 0)));
    cr_assert_str_eq (json_string_value (json_object_get (
                          json_object_get (result, "headers"), "Content-Type")),
                      "application/json; charset=utf-8");
    json_decref (result);
}

Test (runner_http, text_is_not_parsed_and_bad_json_stays_text)
{
    const char *status;
    json_t *result = s_run (json_object (), "/created", &status);
    cr_assert_str_eq (status, "completed", "201 succeeds as in StackStorm");
    cr_assert_eq (json_integer_value (json_object_get (result, "status_code")), 201);
    cr_assert (json_is_false (json_object_get (result, "parsed")));
    cr_assert_str_eq (json_string_value (json_object_get (result, "body")), "made");
    cr_assert_str_eq (json_string_value (
                          json_object_get (json_object_get (result, "headers"), "X-Two")),
                      "a");
    json_decref (result);
    result = s_run (json_object (), "/badjson", &status);
    cr_assert_str_eq (status, "completed");
    cr_assert (json_is_false (json_object_get (result, "parsed")));
    cr_assert_str_eq (json_string_value (json_object_get (result, "body")), "not json");
    json_decref (result);
}

Test (runner_http, methods_headers_query_cookies_and_body)
{
    const char *status;
    json_t *result =
        s_run (json_pack ("{s:s, s:{s:s, s:s}, s:{s:s, s:i}, s:{s:s}, s:{s:s}}", "method",
                          "put", "headers", "Content-Type", "application/json", "X-Token",
                          "t1", "params", "q", "a b&c", "n", 2, "cookies", "session",
                          "s1", "body", "k", "v"),
               "/echo", &status);
    cr_assert_str_eq (status, "completed");
    json_t *echo = json_object_get (result, "body");
    cr_assert_str_eq (json_string_value (json_object_get (echo, "method")), "PUT");
    const char *path = json_string_value (json_object_get (echo, "path"));
    cr_assert (strstr (path, "q=a%20b%26c") && strstr (path, "n=2"), "%s", path);
    json_t *headers = json_object_get (echo, "headers");
    cr_assert_str_eq (json_string_value (json_object_get (headers, "x-token")), "t1");
    cr_assert_str_eq (json_string_value (json_object_get (headers, "cookie")),
                      "session=s1");
    cr_assert_str_eq (json_string_value (json_object_get (headers, "user-agent")),
                      "attune");
    json_t *sent =
        json_loads (json_string_value (json_object_get (echo, "body")), 0, NULL);
    cr_assert_str_eq (json_string_value (json_object_get (sent, "k")), "v");
    json_decref (sent);
    json_decref (result);

    //  A body without a method is a POST (StackStorm); basic auth
    result = s_run (json_pack ("{s:s, s:s, s:s}", "body", "raw text", "username", "u",
                               "password", "secret-pw"),
                    "/echo", &status);
    echo = json_object_get (result, "body");
    cr_assert_str_eq (json_string_value (json_object_get (echo, "method")), "POST");
    cr_assert_str_eq (json_string_value (json_object_get (echo, "body")), "raw text");
    cr_assert_str_eq (json_string_value (json_object_get (
                          json_object_get (echo, "headers"), "authorization")),
                      "Basic dTpzZWNyZXQtcHc=");
    json_decref (result);

    result = s_run (json_pack ("{s:s}", "method", "HEAD"), "/json", &status);
    cr_assert_str_eq (status, "completed");
    cr_assert_str_eq (json_string_value (json_object_get (result, "body")), "");
    json_decref (result);
}

Test (runner_http, a_header_that_splits_lines_is_refused)
{
    const char *status;
    json_t *result = s_run (json_pack ("{s:{s:s}}", "headers", "X-A", "v\r\nX-Evil: 1"),
                            "/echo", &status);
    cr_assert_str_eq (status, "failed");
    cr_assert (strstr (json_string_value (json_object_get (result, "error")), "X-A"));
    json_decref (result);
}

Test (runner_http, client_and_server_errors_fail_with_their_response)
{
    const char *status;
    json_t *result = s_run (json_object (), "/status/404", &status);
    cr_assert_str_eq (status, "failed");
    cr_assert_eq (json_integer_value (json_object_get (result, "status_code")), 404);
    cr_assert_str_eq (json_string_value (json_object_get (result, "body")), "status 404");
    json_decref (result);
    result = s_run (json_object (), "/status/500", &status);
    cr_assert_str_eq (status, "failed");
    cr_assert_eq (json_integer_value (json_object_get (result, "status_code")), 500);
    json_decref (result);
}

Test (runner_http, redirects_are_followed_only_when_allowed)
{
    const char *status;
    json_t *result = s_run (json_object (), "/redirect", &status);
    cr_assert_str_eq (status, "failed", "302 is not a success (StackStorm)");
    cr_assert_eq (json_integer_value (json_object_get (result, "status_code")), 302);
    json_decref (result);
    result = s_run (json_pack ("{s:b}", "allow_redirects", 1), "/redirect", &status);
    cr_assert_str_eq (status, "completed");
    cr_assert_eq (json_integer_value (json_object_get (result, "status_code")), 200);
    cr_assert (json_is_true (json_object_get (result, "parsed")));
    cr_assert_null (json_object_get (json_object_get (result, "headers"), "Location"),
                    "the headers are the last response's");
    json_decref (result);
}

Test (runner_http, timeout_and_connection_errors)
{
    const char *status;
    int64_t start = zclock_mono ();
    json_t *result = s_run (json_pack ("{s:f}", "timeout", 0.5), "/slow", &status);
    cr_assert_str_eq (status, "timeout");
    cr_assert_lt (zclock_mono () - start, 2500);
    cr_assert_not_null (json_object_get (result, "error"));
    json_decref (result);

    json_t *parameters = json_pack ("{s:s}", "url", "http://127.0.0.1:1/");
    result = worker_http_run (NULL, parameters, NULL, &status);
    cr_assert_str_eq (status, "failed");
    cr_assert_not_null (json_object_get (result, "error"));
    json_decref (result);
    json_decref (parameters);

    parameters = json_pack ("{s:s}", "url", "file:///etc/passwd");
    result = worker_http_run (NULL, parameters, NULL, &status);
    cr_assert_str_eq (status, "failed", "only http and https");
    json_decref (result);
    json_decref (parameters);
}

Test (runner_http, a_big_body_is_cut_at_the_cap)
{
    const char *status;
    json_t *result = s_run (json_object (), "/big", &status);
    cr_assert_str_eq (status, "completed");
    cr_assert_eq (json_string_length (json_object_get (result, "body")),
                  WORKER_HTTP_BODY_CAP);
    cr_assert (json_is_true (json_object_get (result, "body_truncated")));
    json_decref (result);
}

Test (runner_http, url_hosts_lists_are_checked)
{
    const char *status;
    json_t *result = s_run (json_pack ("{s:[s]}", "url_hosts_blacklist", "127.0.0.1"),
                            "/json", &status);
    cr_assert_str_eq (status, "failed");
    cr_assert (
        strstr (json_string_value (json_object_get (result, "error")), "blacklisted"));
    cr_assert_null (json_object_get (result, "status_code"), "no request made");
    json_decref (result);
    result = s_run (json_pack ("{s:[s]}", "url_hosts_whitelist", "example.org"), "/json",
                    &status);
    cr_assert_str_eq (status, "failed");
    json_decref (result);
    result = s_run (json_pack ("{s:[s]}", "url_hosts_whitelist", "127.0.0.1"), "/json",
                    &status);
    cr_assert_str_eq (status, "completed");
    json_decref (result);
}

Test (runner_http, a_file_is_uploaded_as_multipart_form_data)
{
    const char *status;
    //  StackStorm's: file_name, file_content, file_content_type; body's keys
    //  are the form's other fields
    json_t *result =
        s_run (json_pack ("{s:s, s:s, s:s, s:s, s:{s:s}}", "method", "POST", "file_name",
                          "report.csv", "file_content", "a,b\n1,2\n", "file_content_type",
                          "text/csv", "body", "note", "weekly"),
               "/echo", &status);
    cr_assert_str_eq (status, "completed", "%s", json_dumps (result, 0));
    json_t *echo = json_object_get (result, "body");
    const char *type = json_string_value (
        json_object_get (json_object_get (echo, "headers"), "content-type"));
    cr_assert (type && strncmp (type, "multipart/form-data; boundary=", 30) == 0, "%s",
               type);
    const char *body = json_string_value (json_object_get (echo, "body"));
    cr_assert (body && strstr (body, "name=\"report.csv\"; filename=\"report.csv\"\r\n"
                                     "Content-Type: text/csv\r\n\r\na,b\n1,2\n\r\n"),
               "%s", body);
    cr_assert (strstr (body, "name=\"note\"\r\n\r\nweekly\r\n"), "%s", body);
    json_decref (result);
    //  attune's file_path: a file on the worker's host, POST by default
    char path[128];
    snprintf (path, sizeof path, "%s/upload.txt", s_dir);
    FILE *file = fopen (path, "w");
    cr_assert_not_null (file);
    fputs ("from disk", file);
    fclose (file);
    result = s_run (json_pack ("{s:s}", "file_path", path), "/echo", &status);
    cr_assert_str_eq (status, "completed", "%s", json_dumps (result, 0));
    echo = json_object_get (result, "body");
    cr_assert_str_eq (json_string_value (json_object_get (echo, "method")), "POST");
    body = json_string_value (json_object_get (echo, "body"));
    cr_assert (body && strstr (body, "name=\"upload.txt\"; filename=\"upload.txt\"") &&
                   strstr (body, "from disk"),
               "%s", body);
    json_decref (result);
    //  a missing file, or a body that is not fields, fails naming the parameter
    result = s_run (json_pack ("{s:s}", "file_path", "/nonexistent/x"), "/echo", &status);
    cr_assert_str_eq (status, "failed");
    cr_assert (
        strstr (json_string_value (json_object_get (result, "error")), "file_path"));
    json_decref (result);
    result = s_run (json_pack ("{s:s, s:s, s:s}", "file_name", "a", "file_content", "x",
                               "body", "raw"),
                    "/echo", &status);
    cr_assert_str_eq (status, "failed");
    cr_assert (strstr (json_string_value (json_object_get (result, "error")), "body"));
    json_decref (result);
}
