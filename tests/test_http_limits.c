/*  test_http_limits: the HTTP gateway against clients that would hold it
    (actors/http/http_conns.c): a slowloris client that trickles header
    bytes, never idle, is cut at the request deadline; 10,000 concurrent
    connections from other addresses leave a prompt client on 127.0.0.1
    answered, and the daemon serves normally after. (The 100 MB body and
    malformed JSON are test_http's `limits` test.)
*/
#include "tests/testing_http.h"
#include "actors/http/http.h"

static void
s_teardown (void)
{
    testing_daemon_stop_all ();
}

TestSuite (http_limits, .fini = s_teardown, .timeout = 180);

//  A client that sends one header byte every 0.5 s (the idle timeout never
//  fires) is cut once the request deadline passes, while others are served
Test (http_limits, slowloris)
{
    testing_http_start (NULL);
    char *body = zsys_sprintf (
        "DEADLINE, IDLE = %d, %d\n"
        "s = socket.create_connection(('127.0.0.1', PORT), timeout=5)\n"
        "s.sendall(b'GET /api/v1/actions HTTP/1.1\\r\\nHost: x\\r\\nX-Slow: ')\n"
        "start = time.time(); cut = None\n"
        "while time.time() - start < IDLE + 10:\n"
        "    try:\n"
        "        s.sendall(b'a')\n"
        "        s.settimeout(0.5)\n"
        "        if s.recv(4096) == b'': cut = time.time() - start; break\n"
        "    except socket.timeout: pass\n"
        "    except OSError: cut = time.time() - start; break\n"
        "    expect(200, 'GET', '/packs')\n"
        "check(cut is not None, 'the slow client was never cut')\n"
        "check(DEADLINE - 1 <= cut < IDLE, 'cut after %%.1f s (deadline %%d s, idle "
        "%%d s)' %% (cut, DEADLINE, IDLE))\n"
        "expect(200, 'GET', '/packs')\n",
        HTTP_REQUEST_DEADLINE_S, HTTP_IDLE_TIMEOUT_S);
    testing_http_python ("slowloris", body, 90000);
    zstr_free (&body);
    char *log = testing_daemon_read_log (&s_http.daemon);
    cr_assert_eq (waitpid (s_http.daemon.pid, NULL, WNOHANG), 0, "attuned died:\n%s",
                  log);
    free (log);
}

//  10,000 connections, idle, from 127.0.0.2-251 (40 an address, under the
//  per-address limit: the connection limit is what they meet), held while a
//  client on 127.0.0.1 asks; then all closed and the daemon serves on
Test (http_limits, ten_thousand)
{
    testing_http_start (NULL);
    testing_http_python (
        "ten_thousand",
        "import errno, resource\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 20000), hard))\n"
        "check(resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= 10100, 'RLIMIT_NOFILE')\n"
        "held, answered, failed = [], 0, 0\n"
        "def ask():\n"
        "    global answered, failed\n"
        "    try:\n"
        "        s, h, j = req('GET', '/packs')\n"
        "        if s == 200: answered += 1\n"
        "        else: failed += 1\n"
        "    except OSError: failed += 1\n"
        "t = time.time()\n"
        "for i in range(10000):\n"
        "    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n"
        "    s.setblocking(False)\n"
        "    s.bind(('127.0.0.%d' % (2 + i % 250), 0))\n"
        "    e = s.connect_ex(('127.0.0.1', PORT))\n"
        "    check(e in (0, errno.EINPROGRESS), 'connect: %s' % errno.errorcode.get(e))\n"
        "    held.append(s)\n"
        "    if i % 1000 == 999: ask()\n"
        "opened = time.time() - t\n"
        "# held open: the prompt client still gets answers\n"
        "for _ in range(10): ask()\n"
        "print('10000 connections opened in %.1f s; answered %d, failed %d' %\n"
        "      (opened, answered, failed))\n"
        "check(answered >= 18 and failed <= 2, (answered, failed))\n"
        "for s in held: s.close()\n"
        "for _ in range(100):\n"
        "    try:\n"
        "        if req('GET', '/packs')[0] == 200: break\n"
        "    except OSError: pass\n"
        "    time.sleep(0.1)\n"
        "for _ in range(20): expect(200, 'GET', '/packs')\n"
        "e = run('test.step', {'n': 3})\n"
        "check(wait(e['id'])['status'] == 'succeeded', 'still running actions')\n",
        150000);
    cr_assert_eq (waitpid (s_http.daemon.pid, NULL, WNOHANG), 0, "attuned died");
}
