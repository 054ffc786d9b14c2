/*  test_action_context: action_context.user and api_user, as parameter
    defaults render them, are the api caller's identity: two API keys run
    the same action through the HTTP gateway (delegated as apikey:NAME)
    and each sees its own; a client's own `user` in the request is not
    taken; an execution a rule creates runs as the system user (attune,
    StackStorm's stanley); a re-run is its re-runner's; the execution keeps
    its user (api.execution.get `user`, StackStorm's `context.user`). */
#include "tests/testing_http.h"

static void
s_teardown (void)
{
    testing_daemon_stop_all ();
}

TestSuite (action_context, .fini = s_teardown, .timeout = 120);

Test (action_context, user_and_api_user_are_the_callers_identity)
{
    //  testing_http_start's daemon, with an action printing who runs it
    //  and a rule running it
    const char *who = "name: who\nrunner_type: local-shell-cmd\nparameters:\n"
                      "  cmd:\n    immutable: true\n"
                      "    default: 'echo {{ action_context.user }} "
                      "{{ action_context.api_user }} {{ me }}'\n"
                      "  me:\n    type: string\n"
                      "    default: 'me={{ action_context.user }}'\n";
    const char *rule = "name: who\npack: test\ntrigger:\n  type: test.hook\n"
                       "criteria:\n  trigger.payload.who: {type: equals, pattern: me}\n"
                       "action:\n  ref: test.who\n";
    const char *more[] = {NULL};
    testing_http_prepare ();
    testing_daemon_write (&s_http.daemon, "test/actions/who.yaml", who);
    testing_daemon_write (&s_http.daemon, "test/rules/who.yaml", rule);
    testing_http_run_daemon (more);
    testing_http_python (
        "who",
        "def out(e): return e['result']['stdout']\n"
        "a = wait(run('test.who', {}, key='admin')['id'])\n"
        "check(out(a) == 'apikey:admin apikey:admin me=apikey:admin', a['result'])\n"
        "check(a['context'].get('user') == 'apikey:admin', a['context'])\n"
        "o = wait(run('test.who', {}, key='operator')['id'])\n"
        "check(out(o) == 'apikey:operator apikey:operator me=apikey:operator', "
        "o['result'])\n"
        "# a user the client writes is not who runs it\n"
        "s = wait(expect(201, 'POST', '/executions', key='operator',\n"
        "                body={'action': 'test.who', 'user': 'root'})['id'])\n"
        "check(out(s).startswith('apikey:operator '), s['result'])\n"
        "# a re-run is its re-runner's\n"
        "t = wait(run('test.step', {'n': 1}, key='operator')['id'])\n"
        "check(t['context'].get('user') == 'apikey:operator', t['context'])\n"
        "r = expect(201, 'POST', '/executions/%s/re_run' % t['id'], key='admin', "
        "body={})\n"
        "check(wait(r['id'])['context'].get('user') == 'apikey:admin', r)\n"
        "# a rule's execution: the system user\n"
        "expect(202, 'POST', '/webhooks/st2', body={'trigger': 'test.hook',\n"
        "       'payload': {'who': 'me'}})\n"
        "for _ in range(200):\n"
        "    items = expect(200, 'GET', '/executions?action=test.who&limit=20')\n"
        "    ruled = [e for e in items if e.get('rule')]\n"
        "    if ruled and ruled[0]['status'] == 'succeeded': break\n"
        "    time.sleep(0.05)\n"
        "check(ruled, 'the rule ran test.who')\n"
        "e = wait(ruled[0]['id'])\n"
        "check(out(e) == 'attune attune me=attune', e['result'])\n",
        60000);
}

Test (action_context, a_trusted_loopback_client_names_itself)
{
    //  Without CURVE the api trusts its clients: `identity` (attune --as,
    //  else the login name) is the user, as for api.key.*
    const char *more[] = {NULL};
    testing_http_prepare ();
    testing_daemon_write (&s_http.daemon, "test/actions/who.yaml",
                          "name: who\nrunner_type: local-shell-cmd\nparameters:\n"
                          "  cmd:\n    immutable: true\n"
                          "    default: 'echo {{ action_context.user }}'\n");
    testing_http_run_daemon (more);
    testing_http_python (
        "loopback",
        "import subprocess\n"
        "def cli(*args):\n"
        "    p = subprocess.run([ATTUNE, '--api', API, '--json'] + list(args),\n"
        "                       capture_output=True, text=True, timeout=30)\n"
        "    check(p.returncode == 0, p.stderr)\n"
        "    return json.loads(p.stdout)\n"
        "def user_of(*args):\n"
        "    e = cli(*args, 'run', 'test.who')\n"
        "    eid = e.get('execution') or e.get('id')\n"
        "    return wait(eid)['result']['stdout']\n"
        "check(user_of('--as', 'alice') == 'alice', 'alice')\n"
        "import os, pwd\n"
        "os.environ.pop('ATTUNE_IDENTITY', None)\n"
        "login = pwd.getpwuid(os.getuid()).pw_name\n"
        "check(user_of() == login, 'the login name')\n",
        60000);
}
