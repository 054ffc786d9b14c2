/*  test_http: the HTTP gateway (actors/http) against a live attuned, through
    Python's http.client (scripts written to the daemon's directory) and
    curl: every route in StackStorm's shapes, the OpenAPI document against
    the route table both ways, a webhook firing its rule, the event stream
    resumed with Last-Event-ID, roles per route, and hostile clients (slow,
    100 MB body, malformed JSON, many connections) leaving it serving.
*/
#include "tests/testing_http.h"
#include "actors/http/http_internal.h"

static void
s_teardown (void)
{
    testing_daemon_stop_all ();
}

TestSuite (http, .fini = s_teardown, .timeout = 120);

//  Every route, in StackStorm's shapes, one resource group per test

//  Executions: run, get, list with filters and paging, output, children, re-run, cancel
Test (http, executions)
{
    testing_http_start (NULL);
    testing_http_python (
        "executions",
        "e = run('test.step', {'n': 7})\n"
        "has(e, ['id', 'action', 'runner', 'status', 'parameters', 'liveaction',\n"
        "        'start_timestamp', 'children', 'context'], 'execution')\n"
        "check(e['action']['ref'] == 'test.step' and e['action']['pack'] == 'test', e)\n"
        "e = wait(e['id'])\n"
        "check(e['status'] == 'succeeded', e)\n"
        "has(e, ['end_timestamp', 'elapsed_seconds', 'result', 'log'], 'ended')\n"
        "check(e['start_timestamp'].endswith('Z'), e['start_timestamp'])\n"
        "few = expect(200, 'GET', '/executions/%s?include_attributes=status,action' % "
        "e['id'])\n"
        "check(sorted(few) == ['action', 'id', 'status'], few)\n"
        "few = expect(200, 'GET', "
        "'/executions?exclude_attributes=result,log&limit=1')[0]\n"
        "check('result' not in few and 'status' in few, few)\n"
        "s, h, out = req('GET', '/executions/%s/output' % e['id'])\n"
        "check(s == 200 and out.startswith('step 7'), (s, out))\n"
        "# the live output by chunk (issue 21)\n"
        "o = expect(200, 'GET', '/executions/%s/output?offset=0' % e['id'])\n"
        "check(o['ended'] and o['chunks'][0]['data'].startswith('step 7'), o)\n"
        "p = expect(200, 'GET', '/executions/%s/output?offset=%d' % (e['id'], "
        "o['next']))\n"
        "check(p['chunks'] == [] and p['next'] == o['next'], p)\n"
        "expect(400, 'GET', '/executions/%s/output?offset=x' % e['id'])\n"
        "expect(400, 'GET', '/executions/%s/output?output_type=stdin' % e['id'])\n"
        "check(expect(200, 'GET', '/executions/%s/children' % e['id']) == [], "
        "'children')\n"
        "s, h, items = req('GET', "
        "'/executions?action=test.step&status=succeeded&limit=5')\n"
        "check(s == 200 and isinstance(items, list) and items[0]['id'] == e['id'], "
        "items)\n"
        "check(h.get('X-Limit') == '5', h)\n"
        "check(expect(200, 'GET', '/executions?limit=1&offset=0')[0]['id'], 'offset')\n"
        "expect(400, 'GET', '/executions?limit=0')\n"
        "expect(400, 'GET', '/executions?offset=x')\n"
        "again = expect(201, 'POST', '/executions/%s/re_run' % e['id'],\n"
        "               body={'parameters': {'n': 8}})\n"
        "check(again['parameters']['n'] == 8 and again['parent'] == e['id'], again)\n"
        "kids = expect(200, 'GET', '/executions/%s/children' % e['id'])\n"
        "check([k['id'] for k in kids] == [again['id']], kids)\n"
        "# a workflow's tasks, oldest first, each with its task name\n"
        "f = wait(run('test.flow', {})['id'])\n"
        "check(f['status'] == 'succeeded', f)\n"
        "kids = expect(200, 'GET', '/executions/%s/children' % f['id'])\n"
        "check([k['task'] for k in kids] == ['one', 'two'] and\n"
        "      all(k['action']['ref'] == 'core.noop' for k in kids), kids)\n"
        "w = run('test.wait', {})\n"
        "c = expect(200, 'DELETE', '/executions/' + w['id'])\n"
        "check(c['status'] in ('canceling', 'canceled'), c)\n"
        "check(wait(w['id'])['status'] == 'canceled', 'cancel')\n"
        "expect(409, 'DELETE', '/executions/' + e['id'])\n"
        "expect(404, 'GET', '/executions/01a24493-0000-7000-8000-000000000000')\n"
        "expect(404, 'POST', '/executions', body={'action': 'test.nope'})\n"
        "expect(400, 'POST', '/executions', body={'action': 'test.step', 'parameters': "
        "{'n': 'x'}})\n"
        "expect(400, 'POST', '/executions', body={'parameters': {}})\n",
        60000);
}

//  Actions, trigger types, packs, policies
Test (http, definitions)
{
    testing_http_start (NULL);
    testing_http_python (
        "definitions",
        "a = expect(200, 'GET', '/actions?pack=test')\n"
        "check([x['ref'] for x in a] == ['test.flow', 'test.step', 'test.wait'], a)\n"
        "has(a[0], ['id', 'ref', 'name', 'pack', 'runner_type', 'parameters', "
        "'enabled'], 'action')\n"
        "check(expect(200, 'GET', '/actions/test.step')['id'] == 'test.step', 'action "
        "get')\n"
        "expect(404, 'GET', '/actions/test.nope')\n"
        "t = expect(200, 'GET', '/triggertypes')\n"
        "refs = [x['ref'] for x in t]\n"
        "check('core.st2.webhook' in refs and 'test.hook' in refs, refs)\n"
        "has(expect(200, 'GET', '/triggertypes/core.st2.webhook'),\n"
        "    ['id', 'ref', 'pack', 'name', 'parameters_schema', 'payload_schema'], "
        "'tt')\n"
        "p = expect(200, 'GET', '/packs')\n"
        "check(sorted(x['ref'] for x in p) == ['core', 'test'], p)\n"
        "has(expect(200, 'GET', '/packs/test'), ['id', 'ref', 'name', 'version'], "
        "'pack')\n"
        "pol = expect(200, 'GET', '/policies?pack=test')\n"
        "check(pol[0]['ref'] == 'test.one' and pol[0]['resource_ref'] == 'test.step', "
        "pol)\n"
        "has(expect(200, 'GET', '/policies/test.one'), ['id', 'policy_type', "
        "'parameters'], 'pol')\n",
        60000);
}

//  Rules: create, conflict, enable and disable by PUT, update, delete
Test (http, rules)
{
    testing_http_start (NULL);
    testing_http_python (
        "rules",
        "rule = {'name': 'r1', 'pack': 'test', 'enabled': True,\n"
        "        'trigger': {'type': 'test.hook'}, 'criteria': {},\n"
        "        'action': {'ref': 'test.step', 'parameters': {'n': 1}}}\n"
        "r = expect(201, 'POST', '/rules', body=rule)\n"
        "has(r, ['id', 'ref', 'name', 'pack', 'trigger', 'action', 'criteria', "
        "'enabled'], 'rule')\n"
        "expect(409, 'POST', '/rules', body=rule)\n"
        "check(expect(200, 'PUT', '/rules/test.r1', body={'enabled': False})['enabled'] "
        "is False, 'off')\n"
        "check(expect(200, 'GET', '/rules/test.r1')['enabled'] is False, 'off stored')\n"
        "check(expect(200, 'PUT', '/rules/test.r1', body={'enabled': True})['enabled'] "
        "is True, 'on')\n"
        "u = expect(200, 'PUT', '/rules/test.r1', body={'description': 'changed'})\n"
        "check(u['description'] == 'changed', u)\n"
        "expect(400, 'PUT', '/rules/test.r1', body={'name': 'other'})\n"
        "check('test.r1' in [x['ref'] for x in expect(200, 'GET', '/rules')], 'listed')\n"
        "s, h, j = req('DELETE', '/rules/test.r1')\n"
        "check(s == 204, (s, j))\n"
        "expect(404, 'GET', '/rules/test.r1')\n"
        "expect(404, 'DELETE', '/rules/test.r1')\n"
        "expect(400, 'POST', '/rules', body={'name': 'x'})\n"
        "q = run('core.ask', {'prompt': 'ok?'})\n"
        "check(wait(q['id'])['status'] == 'pending', 'pending')\n"
        "inq = expect(200, 'GET', '/inquiries')\n"
        "check(inq[0]['id'] == q['id'], inq)\n"
        "has(inq[0], ['id', 'ttl', 'users', 'roles', 'schema', 'route'], 'inquiry')\n"
        "expect(200, 'GET', '/inquiries/' + q['id'])\n"
        "expect(400, 'PUT', '/inquiries/' + q['id'], body={'response': {'continue': "
        "'no'}})\n"
        "expect(400, 'PUT', '/inquiries/' + q['id'], body={'continue': True})\n"
        "ans = expect(200, 'PUT', '/inquiries/' + q['id'], body={'id': q['id'], "
        "'response': {'continue': True}})\n"
        "check(ans == {'id': q['id'], 'response': {'continue': True}}, ans)\n"
        "check(wait(q['id'])['status'] == 'succeeded', 'answered')\n"
        "expect(409, 'PUT', '/inquiries/' + q['id'], body={'response': {'continue': "
        "True}})\n"
        "ti = expect(200, 'GET', '/triggerinstances')\n",
        60000);
}

//  Inquiries answered by PUT, trigger instances, datastore keys, errors
Test (http, inquiries_keys)
{
    testing_http_start (NULL);
    testing_http_python (
        "inquiries_keys",
        "k = expect(200, 'PUT', '/keys/api_url', body={'name': 'api_url', 'value': "
        "'https://x'})\n"
        "check(k['name'] == 'api_url' and k['value'] == 'https://x' and k['scope'] == "
        "'st2kv.system', k)\n"
        "k = expect(200, 'PUT', '/keys/token', body={'value': 's3cr3t', 'secret': "
        "True})\n"
        "check(k['secret'] and k['encrypted'] and k['value'] != 's3cr3t', k)\n"
        "check(expect(200, 'GET', '/keys/token?decrypt=true')['value'] == 's3cr3t', "
        "'decrypt')\n"
        "check(expect(200, 'GET', '/keys/token', key='viewer')['value'] != 's3cr3t', "
        "'masked')\n"
        "expect(403, 'GET', '/keys/token?decrypt=true', key='viewer')\n"
        "expect(403, 'PUT', '/keys/x', key='viewer', body={'value': 'v'})\n"
        "names = [x['name'] for x in expect(200, 'GET', '/keys?prefix=api', "
        "key='viewer')]\n"
        "check(names == ['api_url'], names)\n"
        "expect(400, 'PUT', '/keys/x', body={'value': 3})\n"
        "s, h, j = req('DELETE', '/keys/api_url')\n"
        "check(s == 204, (s, j))\n"
        "expect(404, 'GET', '/keys/api_url')\n"
        "expect(404, 'GET', '/nothing')\n"
        "expect(405, 'PATCH', '/executions')\n"
        "s, h, j = req('GET', '/openapi.json', key=None)\n"
        "check(s == 200 and j['openapi'].startswith('3.'), 'openapi')\n"
        "s, h, page = req('GET', '/', key=None, prefix='')\n"
        "check(s == 200 and h['Content-Type'].startswith('text/html') and 'EventSource' "
        "in page, s)\n"
        "check(\"frame-ancestors 'none'\" in h['Content-Security-Policy'], h)\n",
        60000);
}

//  The OpenAPI document and the router: one table, both ways
Test (http, openapi)
{
    json_t *doc = http_openapi ();
    json_t *paths = json_object_get (doc, "paths");
    size_t operations = 0, routes = 0;
    const char *path;
    json_t *item;
    json_object_foreach (paths, path, item)
    {
        const char *method;
        json_t *operation;
        json_object_foreach (item, method, operation)
        {
            //  The path with each {param} filled in reaches this very route
            char url[512] = "", upper[16];
            for (const char *p = path; *p;) {
                if (*p == '{') {
                    strcat (url, "x");
                    p = strchr (p, '}') + 1;
                } else
                    strncat (url, p++, 1);
            }
            snprintf (upper, sizeof upper, "%s", method);
            for (char *m = upper; *m; m++)
                *m = (char)toupper ((unsigned char)*m);
            http_req_t req = {.url = url, .method = upper};
            bool known = false;
            const http_route_t *route = http_route_match (&req, &known);
            cr_assert_not_null (route, "%s %s: described, not served", upper, path);
            cr_assert_str_eq (route->method, upper);
            operations++;
        }
    }
    for (int i = 0; http_routes[i].method; i++, routes++) {
        char described[256];
        snprintf (described, sizeof described, "%s", http_routes[i].path);
        char *plus = strstr (described, "+}");
        if (plus)
            memmove (plus, plus + 1, strlen (plus));
        char method[16];
        snprintf (method, sizeof method, "%s", http_routes[i].method);
        for (char *m = method; *m; m++)
            *m = (char)tolower ((unsigned char)*m);
        cr_assert_not_null (json_object_get (json_object_get (paths, described), method),
                            "%s %s: served, not described", http_routes[i].method,
                            http_routes[i].path);
    }
    cr_assert_eq (operations, routes);
    json_decref (doc);
}

//  A webhook posted with curl fires its rule; /webhooks/st2 publishes any trigger
Test (http, webhook)
{
    testing_http_start (NULL);
    testing_http_python ("hook_rule",
                         "rule = {'name': 'hook', 'pack': 'test', 'trigger': {'type': "
                         "'core.st2.webhook',\n"
                         "        'parameters': {'url': 'ci/done'}}, 'criteria': {},\n"
                         "        'action': {'ref': 'test.step', 'parameters': {'n': '{{ "
                         "trigger.body.n }}'}}}\n"
                         "expect(201, 'POST', '/rules', body=rule)\n",
                         20000);
    char url[128], header[128], *out = NULL, *err = NULL;
    snprintf (url, sizeof url, "http://127.0.0.1:%d/api/v1/webhooks/ci/done",
              s_http.port);
    json_t *keys = json_load_file (s_http.keys, 0, NULL);
    snprintf (header, sizeof header, "St2-Api-Key: %s",
              json_string_value (json_object_get (keys, "operator")));
    json_decref (keys);
    const char *curl[] = {"/usr/bin/curl",
                          "-s",
                          "-o",
                          "/dev/null",
                          "-w",
                          "%{http_code}",
                          "-X",
                          "POST",
                          "-H",
                          header,
                          "-H",
                          "Content-Type: application/json",
                          "-d",
                          "{\"n\": 41}",
                          url,
                          NULL};
    cr_assert_eq (testing_run (curl, NULL, &out, &err, 20000), 0, "curl: %s", err);
    cr_assert_str_eq (out, "202");
    free (out);
    free (err);
    testing_http_python (
        "hook_fired",
        "for _ in range(100):\n"
        "    items = expect(200, 'GET', '/executions?action=test.step')\n"
        "    if items and items[0].get('rule', {}).get('ref') == 'test.hook': break\n"
        "    time.sleep(0.1)\n"
        "check(items and items[0]['rule']['ref'] == 'test.hook', items)\n"
        "check(wait(items[0]['id'])['parameters']['n'] == 41, items[0])\n"
        "ti = expect(200, 'GET', '/triggerinstances/' + "
        "items[0]['trigger_instance']['id'])\n"
        "check(ti['payload']['body'] == {'n': 41} and 'headers' in ti['payload'], ti)\n"
        "check('St2-Api-Key' not in ti['payload']['headers'], ti)\n"
        "s, h, j = req('POST', '/webhooks/st2', key='operator',\n"
        "              body={'trigger': 'test.hook', 'payload': {'n': 5}})\n"
        "check(s == 202 and j['payload'] == {'n': 5} and h.get('X-Attune-Event'), (s, "
        "j))\n"
        "for _ in range(100):\n"
        "    items = expect(200, 'GET', '/executions?action=test.step&limit=1')\n"
        "    if items and items[0]['parameters'].get('n') == 5: break\n"
        "    time.sleep(0.1)\n"
        "check(items[0]['rule']['ref'] == 'test.step', items)\n"
        "expect(404, 'POST', '/webhooks/st2', body={'trigger': 'test.none', 'payload': "
        "{}})\n"
        "expect(400, 'POST', '/webhooks/st2', body={'payload': {}})\n"
        "expect(403, 'POST', '/webhooks/ci/done', key='viewer', body={'n': 1})\n"
        "expect(401, 'POST', '/webhooks/ci/done', key=None, body={'n': 1})\n",
        30000);
    //  Keyless only where a rule's trigger says auth: none (attune's choice;
    //  st2api wants a key on every webhook), and then only to those triggers
    testing_http_python (
        "hook_keyless",
        "def fired(n, ref):\n"
        "    for _ in range(100):\n"
        "        got = [x['rule']['ref'] for x in expect(200, 'GET', "
        "'/executions?action=test.step&limit=50')\n"
        "               if x['parameters'].get('n') == n]\n"
        "        if ref in got: return got\n"
        "        time.sleep(0.1)\n"
        "    check(False, 'rule %s did not fire for %s' % (ref, n))\n"
        "def rule(name, tparams, enabled=True):\n"
        "    expect(201, 'POST', '/rules', body={'name': name, 'pack': 'test', "
        "'enabled': enabled,\n"
        "        'trigger': {'type': 'core.st2.webhook', 'parameters': tparams},\n"
        "        'action': {'ref': 'test.step', 'parameters': {'n': '{{ trigger.body.n "
        "}}'}}})\n"
        "rule('open', {'url': 'open/hook', 'auth': 'none'})\n"
        "rule('closed', {'url': 'open/hook'})\n"
        "rule('off', {'url': 'off/hook', 'auth': 'none'}, enabled=False)\n"
        "s, h, j = req('POST', '/webhooks/open/hook', key=None, body={'n': 51})\n"
        "check(s == 202 and j == {'n': 51}, (s, j))\n"
        "time.sleep(0.5)\n"
        "check(fired(51, 'test.open') == ['test.open'], 'keyless reached a keyed "
        "trigger')\n"
        "expect(202, 'POST', '/webhooks/open/hook', key='operator', body={'n': 52})\n"
        "fired(52, 'test.open')\n"
        "check(sorted(fired(52, 'test.closed')) == ['test.closed', 'test.open'], 52)\n"
        "expect(401, 'POST', '/webhooks/off/hook', key=None, body={'n': 53})\n"
        "expect(401, 'POST', '/webhooks/nothing/here', key=None, body={'n': 54})\n"
        "expect(401, 'POST', '/webhooks/ci/done', key=None, body={'n': 55})\n"
        "expect(401, 'POST', '/webhooks/st2', key=None, body={'trigger': 'test.hook'})\n"
        "expect(401, 'POST', '/webhooks/open/hook', key='off', body={'n': 56})\n"
        "expect(400, 'POST', '/webhooks/open/hook', key=None, raw='{')\n"
        "expect(401, 'GET', '/executions', key=None)\n",
        30000);
}

//  The event stream: StackStorm's names, a filter, and Last-Event-ID
//  resuming from the executor's changes (or a visible reset)
Test (http, stream)
{
    testing_http_start (NULL);
    testing_http_python (
        "stream",
        "def stream(last=None, events=None, key='viewer'):\n"
        "    c = http.client.HTTPConnection('127.0.0.1', PORT, timeout=15)\n"
        "    h = {'St2-Api-Key': KEYS[key]}\n"
        "    if last: h['Last-Event-ID'] = last\n"
        "    c.request('GET', '/api/v1/stream' + ('?events=' + events if events "
        "else ''), headers=h)\n"
        "    r = c.getresponse()\n"
        "    check(r.status == 200 and r.getheader('Content-Type') == "
        "'text/event-stream', r.status)\n"
        "    return c, r\n"
        "def next_event(r):\n"
        "    ev = {}\n"
        "    while True:\n"
        "        line = r.readline().decode()\n"
        "        check(line != '', 'the stream ended')\n"
        "        line = line.rstrip('\\n')\n"
        "        if line == '':\n"
        "            if 'event' in ev: return ev\n"
        "            continue\n"
        "        if line.startswith(':'): continue\n"
        "        k, _, v = line.partition(': ')\n"
        "        ev[k] = json.loads(v) if k == 'data' else v\n"
        "def until(r, pred):\n"
        "    for _ in range(500):\n"
        "        ev = next_event(r)\n"
        "        if pred(ev): return ev\n"
        "    check(False, 'no such event')\n"
        "c, r = stream()\n"
        "check(next_event(r)['event'] == 'st2.stream__open', 'open')\n"
        "x = run('test.step', {'n': 1})\n"
        "ev = until(r, lambda e: e['event'] == 'st2.execution__create' and "
        "e['data']['id'] == x['id'])\n"
        "check('id' in ev and ev['data']['action']['ref'] == 'test.step', ev)\n"
        "ev = until(r, lambda e: e['event'] == 'st2.execution__update' and "
        "e['data']['id'] == x['id']\n"
        "           and e['data']['status'] == 'succeeded')\n"
        "last = ev['id']\n"
        "c.close()\n"
        "y = run('test.step', {'n': 2})\n"
        "check(wait(y['id'])['status'] == 'succeeded', 'y')\n"
        "c, r = stream(last=last)\n"
        "check(next_event(r)['data'] == {'resumed': True}, 'resumed')\n"
        "ev = until(r, lambda e: e['event'] == 'st2.execution__update' and "
        "e['data']['id'] == y['id'])\n"
        "check(ev['data']['status'] == 'succeeded', ev)\n"
        "c.close()\n"
        "c, r = stream(last='1-1')\n"
        "next_event(r)\n"
        "check(next_event(r)['event'] == 'st2.stream__reset', 'reset')\n"
        "c.close()\n"
        "c, r = stream(events='st2.execution__create')\n"
        "z = run('test.step', {'n': 3})\n"
        "ev = next_event(r)\n"
        "check(ev['event'] == 'st2.execution__create' and ev['data']['id'] == "
        "z['id'], ev)\n"
        "w = run('test.step', {'n': 4})\n"
        "ev = next_event(r)\n"
        "check(ev['event'] == 'st2.execution__create' and ev['data']['id'] == "
        "w['id'], ev)\n"
        "c.close()\n"
        "# core.announcement: st2.announcement__ROUTE with its message\n"
        "c, r = stream(events='st2.announcement__deploys,st2.announcement__general')\n"
        "run('core.announcement', {'message': {'text': 'v2 out'}, 'route': "
        "'deploys'})\n"
        "ev = next_event(r)\n"
        "check(ev['event'] == 'st2.announcement__deploys' and\n"
        "      ev['data'] == {'message': {'text': 'v2 out'}}, ev)\n"
        "run('core.announcement', {'message': {'n': 1}})\n"
        "ev = next_event(r)\n"
        "check(ev['event'] == 'st2.announcement__general' and\n"
        "      ev['data'] == {'message': {'n': 1}}, ev)\n"
        "c.close()\n"
        "s, h, j = req('GET', '/stream', headers={'Last-Event-ID': 'zzz'})\n"
        "check(s == 400 and 'faultstring' in j, (s, j))\n"
        "expect(401, 'GET', '/stream', key=None)\n",
        60000);
}

//  Roles per route, enforced by the api; keys disabled, deleted, unknown
Test (http, roles)
{
    testing_http_start (NULL);
    testing_http_python (
        "roles",
        "rule = {'name': 'r', 'pack': 'test', 'trigger': {'type': 'test.hook'},\n"
        "        'action': {'ref': 'test.step', 'parameters': {'n': 1}}}\n"
        "for key in ('viewer', 'operator', 'admin'):\n"
        "    for path in ('/executions', '/actions', '/rules', '/triggertypes', "
        "'/packs',\n"
        "                 '/policies', '/inquiries', '/triggerinstances'):\n"
        "        expect(200, 'GET', path, key=key)\n"
        "e = expect(403, 'POST', '/executions', key='viewer', body={'action': "
        "'test.step', 'parameters': {'n': 1}})\n"
        "check('viewer' in e['faultstring'] and 'operator' in e['faultstring'], e)\n"
        "x = run('test.step', {'n': 1}, key='operator')\n"
        "expect(403, 'DELETE', '/executions/' + x['id'], key='viewer')\n"
        "expect(403, 'POST', '/executions/%s/re_run' % x['id'], key='viewer')\n"
        "expect(403, 'POST', '/webhooks/st2', key='viewer', body={'trigger': "
        "'test.hook'})\n"
        "expect(403, 'POST', '/rules', key='operator', body=rule)\n"
        "expect(403, 'POST', '/rules', key='viewer', body=rule)\n"
        "expect(201, 'POST', '/rules', key='admin', body=rule)\n"
        "expect(403, 'PUT', '/rules/test.r', key='operator', body={'enabled': False})\n"
        "expect(403, 'DELETE', '/rules/test.r', key='operator')\n"
        "expect(204, 'DELETE', '/rules/test.r', key='admin')\n"
        "q = run('core.ask', {}, key='operator')\n"
        "check(wait(q['id'])['status'] == 'pending', 'pending')\n"
        "expect(403, 'PUT', '/inquiries/' + q['id'], key='viewer', body={'response': "
        "{'continue': True}})\n"
        "expect(200, 'PUT', '/inquiries/' + q['id'], key='operator', body={'response': "
        "{'continue': True}})\n"
        "e = expect(401, 'GET', '/executions', key='off')\n"
        "check('disabled' in e['faultstring'], e)\n"
        "expect(401, 'GET', '/executions', key=None)\n"
        "expect(401, 'GET', '/executions', key=None, headers={'St2-Api-Key': 'atk_' + "
        "'0' * 64})\n"
        "expect(401, 'GET', '/executions', key=None, headers={'St2-Api-Key': 'short'})\n"
        "expect(200, 'GET', '/executions?st2-api-key=' + KEYS['viewer'], key=None)\n"
        "s = run('core.local', {'cmd': 'true', 'sudo_password': 'hush-7f3a'},\n"
        "        key='operator')['id']\n"
        "wait(s)\n"
        "for key, show, seen in (('viewer', '', '********'),\n"
        "                        ('viewer', '?show_secrets=true', '********'),\n"
        "                        ('operator', '?show_secrets=true', '********'),\n"
        "                        ('admin', '', '********'),\n"
        "                        ('admin', '?show_secrets=false', '********'),\n"
        "                        ('admin', '?show_secrets=true', 'hush-7f3a')):\n"
        "    e = expect(200, 'GET', '/executions/' + s + show, key=key)\n"
        "    check(e['parameters']['sudo_password'] == seen, (key, show, "
        "e['parameters']))\n"
        "l = expect(200, 'GET', '/executions?show_secrets=true', key='admin')\n"
        "check('hush-7f3a' not in json.dumps(l), 'a list is masked: %s' % l)\n",
        60000);
    //  A key deleted counts from the next request
    const char *argv[] = {
        ATTUNE_HELPER_DIR "/attune", "apikey", "delete", "viewer", "--data",
        s_http.daemon.data,          NULL};
    cr_assert_eq (testing_run (argv, NULL, NULL, NULL, 10000), 0);
    testing_http_python ("deleted",
                         "expect(401, 'GET', '/executions', key='viewer')\n"
                         "expect(200, 'GET', '/executions', key='admin')\n",
                         20000);
}

//  Hostile clients: each gets a clear 4xx (or is cut off), the daemon serves on
Test (http, limits)
{
    testing_http_start (NULL);
    testing_http_python (
        "limits",
        "for raw in ('{', '{\"action\": ', '[' * 100000, '\\xff\\xfe', 'null', "
        "'{\"a\":1,\"a\":2}'):\n"
        "    s, h, j = req('POST', '/executions', raw=raw.encode('latin-1'))\n"
        "    check(s == 400 and 'faultstring' in j, (raw[:20], s, j))\n"
        "expect(400, 'POST', '/rules', raw='[1, 2]')\n"
        "expect(400, 'PUT', '/inquiries/x', raw='')\n"
        "# over the limit, announced: 413 before the body is sent\n"
        "s = socket.create_connection(('127.0.0.1', PORT), timeout=10)\n"
        "s.sendall(('POST /api/v1/webhooks/st2 HTTP/1.1\\r\\nHost: x\\r\\nSt2-Api-Key: "
        "%s\\r\\n'\n"
        "           'Content-Length: %d\\r\\n\\r\\n' % (KEYS['admin'], 1024 * 1024 + "
        "1)).encode())\n"
        "answer = s.recv(65536).decode()\n"
        "check(answer.startswith('HTTP/1.1 413') and 'faultstring' in answer, answer)\n"
        "s.close()\n"
        "# 100 MB announced: refused before it is read\n"
        "c = http.client.HTTPConnection('127.0.0.1', PORT, timeout=20)\n"
        "c.putrequest('POST', '/api/v1/webhooks/st2')\n"
        "c.putheader('St2-Api-Key', KEYS['admin'])\n"
        "c.putheader('Content-Length', str(100 * 1024 * 1024))\n"
        "c.endheaders()\n"
        "status = None\n"
        "try:\n"
        "    for _ in range(100): c.send(b'x' * (1024 * 1024))\n"
        "except OSError: pass\n"
        "try: status = c.getresponse().status\n"
        "except Exception: pass\n"
        "check(status in (413, None), status)\n"
        "c.close()\n"
        "# 100 MB chunked (no length): cut off past the limit\n"
        "def chunks():\n"
        "    for _ in range(100): yield b'y' * (1024 * 1024)\n"
        "c = http.client.HTTPConnection('127.0.0.1', PORT, timeout=20)\n"
        "try:\n"
        "    c.request('POST', '/api/v1/webhooks/st2', body=chunks(), "
        "encode_chunked=True,\n"
        "              headers={'St2-Api-Key': KEYS['admin']})\n"
        "    status = c.getresponse().status\n"
        "except OSError: status = None\n"
        "check(status in (413, None), status)\n"
        "c.close()\n"
        "expect(200, 'GET', '/actions')\n"
        "# slow clients: headers never finished, while others are served\n"
        "slow = []\n"
        "for _ in range(50):\n"
        "    s = socket.create_connection(('127.0.0.1', PORT))\n"
        "    s.sendall(b'GET /api/v1/actions HTTP/1.1\\r\\nHost: x\\r\\nX-Slow: ')\n"
        "    slow.append(s)\n"
        "t = time.time()\n"
        "for _ in range(20): expect(200, 'GET', '/packs')\n"
        "check(time.time() - t < 10, 'slow clients slowed the others')\n"
        "for s in slow:\n"
        "    try: s.sendall(b'a')\n"
        "    except OSError: pass\n"
        "# more connections than the limit: refused, not queued forever\n"
        "many = []\n"
        "for _ in range(400):\n"
        "    try: many.append(socket.create_connection(('127.0.0.1', PORT), timeout=5))\n"
        "    except OSError: break\n"
        "for s in many + slow: s.close()\n"
        "for _ in range(100):\n"
        "    try:\n"
        "        if req('GET', '/packs')[0] == 200: break\n"
        "    except OSError: pass\n"
        "    time.sleep(0.1)\n"
        "expect(200, 'GET', '/packs')\n"
        "e = run('test.step', {'n': 9})\n"
        "check(wait(e['id'])['status'] == 'succeeded', 'still running actions')\n",
        90000);
    //  Alive, and its log says nothing crashed
    cr_assert_eq (waitpid (s_http.daemon.pid, NULL, WNOHANG), 0, "attuned died");
}

//  202 means durable: attuned killed the instant after still has the event,
//  and runs its rule once it is back
Test (http, webhook_durable)
{
    testing_http_start (NULL);
    char *body = zsys_sprintf ("import os\n"
                               "s, h, j = req('POST', '/webhooks/st2', body={'trigger': "
                               "'test.hook', 'payload': {'n': 77}})\n"
                               "os.kill(%d, 9)\n"
                               "check(s == 202, (s, j))\n"
                               "open('%s/event', 'w').write(h['X-Attune-Event'])\n",
                               (int)s_http.daemon.pid, s_http.daemon.root);
    testing_http_python ("durable_post", body, 20000);
    zstr_free (&body);
    testing_daemon_signal (&s_http.daemon, SIGKILL, 5000);
    char http[64];
    snprintf (http, sizeof http, "127.0.0.1:%d", s_http.port);
    const char *extra[] = {"--http", http, NULL};
    testing_daemon_start (&s_http.daemon, extra);
    cr_assert (testing_daemon_wait_log (&s_http.daemon, "http: serving", 5000));
    body = zsys_sprintf (
        "event = open('%s/event').read()\n"
        "ti = expect(200, 'GET', '/triggerinstances/' + event)\n"
        "check(ti['payload'] == {'n': 77}, ti)\n"
        "for _ in range(100):\n"
        "    items = [e for e in expect(200, 'GET', '/executions?action=test.step')\n"
        "             if e['parameters'].get('n') == 77]\n"
        "    if items and items[0]['status'] in ('succeeded', 'abandoned'): break\n"
        "    time.sleep(0.1)\n"
        "# once: succeeded, or abandoned when the kill caught its process running\n"
        "check(len(items) == 1 and items[0]['status'] in ('succeeded', 'abandoned'), "
        "items)\n",
        s_http.daemon.root);
    testing_http_python ("durable_after", body, 30000);
    zstr_free (&body);
}

//  HTTPS with a certificate and key; plain HTTP refused beyond loopback
Test (http, https)
{
    char dir[PATH_MAX - 64], cert[PATH_MAX], key[PATH_MAX];
    testing_tmpdir (dir, sizeof dir, "test_http_tls");
    snprintf (cert, sizeof cert, "%s/cert.pem", dir);
    snprintf (key, sizeof key, "%s/key.pem", dir);
    const char *openssl[] = {"/usr/bin/openssl",
                             "req",
                             "-x509",
                             "-newkey",
                             "ec",
                             "-pkeyopt",
                             "ec_paramgen_curve:prime256v1",
                             "-nodes",
                             "-subj",
                             "/CN=127.0.0.1",
                             "-addext",
                             "subjectAltName=IP:127.0.0.1",
                             "-days",
                             "2",
                             "-keyout",
                             key,
                             "-out",
                             cert,
                             NULL};
    char *err = NULL;
    cr_assert_eq (testing_run (openssl, NULL, NULL, &err, 20000), 0, "openssl: %s", err);
    free (err);
    const char *more[] = {"--http-cert", cert, "--http-key", key, NULL};
    testing_http_start (more);
    char *log = testing_daemon_read_log (&s_http.daemon);
    cr_assert (strstr (log, "http https://127.0.0.1:"), "%s", log);
    free (log);
    char *body = zsys_sprintf (
        "import ssl\n"
        "ctx = ssl.create_default_context(cafile='%s')\n"
        "c = http.client.HTTPSConnection('127.0.0.1', PORT, context=ctx, timeout=10)\n"
        "c.request('GET', '/api/v1/packs', headers={'St2-Api-Key': KEYS['viewer']})\n"
        "r = c.getresponse()\n"
        "check(r.status == 200 and len(json.loads(r.read())) == 2, r.status)\n"
        "try:\n"
        "    req('GET', '/packs')\n"
        "    check(False, 'plain HTTP answered on the HTTPS port')\n"
        "except (OSError, http.client.HTTPException): pass\n",
        cert);
    testing_http_python ("https", body, 20000);
    zstr_free (&body);
    //  Not loopback, no certificate, no --http-insecure: attuned refuses
    char address[64];
    snprintf (address, sizeof address, "0.0.0.0:%d", testing_free_port ());
    const char *argv[] = {ATTUNE_HELPER_DIR "/attuned",
                          "--data",
                          s_http.daemon.data,
                          "--packs",
                          s_http.daemon.packs,
                          "--api",
                          "tcp://127.0.0.1:0",
                          "--actors",
                          "api,http",
                          "--http",
                          address,
                          NULL};
    char *out = NULL;
    int rc = testing_run (argv, NULL, &out, &err, 20000);
    cr_assert_neq (rc, 0, "attuned served plain HTTP on %s", address);
    cr_assert (strstr (err, "--http-insecure") || strstr (out, "--http-insecure"), "%s%s",
               out, err);
    free (out);
    free (err);
    testing_rmtree (dir);
}
