/*  worker_http: the http-request runner (StackStorm's http_runner), run in
    a worker_task thread with libcurl's easy interface.

    Parameters (StackStorm's names): url (required), method (GET, or POST
    when there is a body), headers {name: value}, body (a string as it is;
    an object is sent as JSON when the Content-Type is application/json,
    else form-encoded), params {query}, cookies {name: value}, username and
    password (basic auth; `auth` "digest" picks digest), timeout (seconds,
    60), verify_ssl_cert (true; a string is a CA bundle path),
    allow_redirects (false), proxy, http_proxy, https_proxy,
    url_hosts_blacklist / url_hosts_whitelist (lists of hosts; one or the
    other; checked on `url`, not on where a redirect leads). Not supported:
    file_name / file_content uploads.

    Result {status_code, body, parsed, headers}: body is the response
    parsed as JSON when its Content-Type is application/json (parsed true),
    else the text (parsed false); a body over WORKER_HTTP_BODY_CAP is cut
    there (body_truncated true, not parsed). Status as StackStorm's:
    completed for 200..206, failed for any other status or a transfer
    error ({error}), timeout past `timeout`. Only http and https, redirects
    included. Credentials and the URL never appear in the result.
*/
#ifndef WORKER_HTTP_H_INCLUDED
#define WORKER_HTTP_H_INCLUDED

#include "actors/worker/worker_task.h"

#define WORKER_HTTP_BODY_CAP  (256 * 1024)
#define WORKER_HTTP_TIMEOUT_S 60

//  The runner (a worker_task_fn).
json_t *worker_http_run (worker_task_t *task, const json_t *parameters,
                         const json_t *action, const char **status);

#endif
