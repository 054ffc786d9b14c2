/*  test_http_browser: the operator page (actors/http/http_page.html) in a
    real browser: Debian's chromium, driven headless by chromedriver through
    python3-selenium, against a live attuned. The page lists executions; one
    run from the CLI appears without a reload; an inquiry answered in the
    page's form completes its execution; a rule disabled in the page stops
    firing. Screenshots go to <build>/test-artifacts/http_browser/.
*/
#include "tests/testing_http.h"

static void
s_teardown (void)
{
    testing_daemon_stop_all ();
}

TestSuite (http_browser, .fini = s_teardown, .timeout = 180);

#define ARTIFACTS ATTUNE_HELPER_DIR "/test-artifacts/http_browser"

//  The browser: chromedriver started with a bounded wait, its log shown when
//  anything fails; every wait bounded (WebDriverWait); a screenshot per step
static const char *s_browser =
    "import os, shutil, subprocess, tempfile, traceback\n"
    "from selenium import webdriver\n"
    "from selenium.webdriver.chrome.service import Service\n"
    "from selenium.webdriver.common.by import By\n"
    "from selenium.webdriver.common.keys import Keys\n"
    "from selenium.webdriver.support.ui import WebDriverWait\n"
    "from selenium.common.exceptions import (NoSuchElementException,\n"
    "                                        StaleElementReferenceException)\n"
    "ART = os.environ['ATTUNE_ARTIFACTS']\n"
    "os.makedirs(ART, exist_ok=True)\n"
    "PROFILE = tempfile.mkdtemp(prefix='chromium-', dir=os.environ['ATTUNE_TMP'])\n"
    "DRIVER_LOG = os.path.join(os.environ['ATTUNE_TMP'], 'chromedriver.log')\n"
    "opts = webdriver.ChromeOptions()\n"
    "opts.binary_location = '/usr/bin/chromium'\n"
    "for a in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage',\n"
    "          '--disable-gpu', '--window-size=1280,1400', '--no-first-run',\n"
    "          '--user-data-dir=' + PROFILE):\n"
    "    opts.add_argument(a)\n"
    "def driver_log():\n"
    "    try: return open(DRIVER_LOG).read()[-6000:]\n"
    "    except OSError: return '(no chromedriver log)'\n"
    "try:\n"
    "    service = Service('/usr/bin/chromedriver', log_output=DRIVER_LOG,\n"
    "                      service_args=['--verbose'])\n"
    "except TypeError:\n"
    "    service = Service('/usr/bin/chromedriver', log_path=DRIVER_LOG,\n"
    "                      service_args=['--verbose'])\n"
    "try:\n"
    "    B = webdriver.Chrome(service=service, options=opts)\n"
    "except Exception as e:\n"
    "    print('FAIL: chromedriver did not start:', e)\n"
    "    print(driver_log()); sys.exit(1)\n"
    "B.set_page_load_timeout(20); B.set_script_timeout(20)\n"
    "def shot(name): B.save_screenshot(os.path.join(ART, name + '.png'))\n"
    "def until(what, fn, timeout=10):\n"
    "    # the page re-renders its tables: an element gone stale is polled again\n"
    "    wait = WebDriverWait(B, timeout, poll_frequency=0.05, ignored_exceptions=[\n"
    "        NoSuchElementException, StaleElementReferenceException])\n"
    "    try: return wait.until(lambda d: fn())\n"
    "    except Exception as e:\n"
    "        shot('failed'); check(False, 'waited %ss for %s: %r' % (timeout, what, e))\n"
    "def row(eid):\n"
    "    r = B.find_elements(By.CSS_SELECTOR, 'tr[data-id=\"%s\"]' % eid)\n"
    "    return r[0] if r else None\n"
    "def finish(code):\n"
    "    try:\n"
    "        for entry in B.get_log('browser'): print('console:', entry)\n"
    "    except Exception: pass\n"
    "    B.quit(); shutil.rmtree(PROFILE, ignore_errors=True)\n"
    "    if code: print(driver_log())\n"
    "    sys.exit(code)\n";

//  What the test does in the page (after s_browser)
static const char *s_steps =
    "try:\n"
    "    other = {'name': 'other', 'pack': 'test', 'trigger': {'type': 'test.hook'},\n"
    "             'action': {'ref': 'test.step', 'parameters': {'n': '{{ "
    "trigger.payload.n }}'}}}\n"
    "    expect(201, 'POST', '/rules', body=other)\n"
    "    first = run('test.step', {'n': 1})\n"
    "    wait(first['id'])\n"
    "    B.get('http://127.0.0.1:%d/' % PORT)\n"
    "    # The key, asked once, typed and entered with the keyboard\n"
    "    box = until('the key prompt', lambda: B.find_element(By.ID, 'key'))\n"
    "    check(B.switch_to.active_element == box, 'the key field has the focus')\n"
    "    box.send_keys(KEYS['admin'], Keys.ENTER)\n"
    "    until('the live stream', lambda: B.find_element(By.ID, 'status').text == "
    "'live')\n"
    "    check(B.execute_script(\"return sessionStorage.getItem('st2-api-key')\") ==\n"
    "          KEYS['admin'], 'the key kept in sessionStorage')\n"
    "    # The page lists executions\n"
    "    until('the listed execution', lambda: row(first['id']))\n"
    "    check('succeeded' in row(first['id']).text, row(first['id']).text)\n"
    "    shot('1-executions')\n"
    "    # One run from the CLI shows up live, without a reload\n"
    "    B.execute_script('window.attuneMarker = 1')\n"
    "    out = subprocess.run([ATTUNE, '--api', API, 'run', 'test.step', 'n=2', "
    "'--json'],\n"
    "                         capture_output=True, text=True, timeout=20)\n"
    "    check(out.returncode == 0, out.stderr)\n"
    "    cli = json.loads(out.stdout)['execution']\n"
    "    until('the CLI execution within a second', lambda: row(cli), timeout=1.0)\n"
    "    check(B.execute_script('return window.attuneMarker') == 1, 'the page "
    "reloaded')\n"
    "    until('it succeeded', lambda: 'succeeded' in row(cli).text)\n"
    "    # Its detail, opened with the keyboard\n"
    "    row(cli).send_keys(Keys.ENTER)\n"
    "    until('its output', lambda: 'step 2' in B.find_element(By.ID, "
    "'detail-output').text)\n"
    "    shot('2-cli-execution')\n"
    "    # An inquiry answered in its form completes the execution\n"
    "    schema = {'type': 'object', 'required': ['approved', 'reason'],\n"
    "              'properties': {'approved': {'type': 'boolean'},\n"
    "                             'reason': {'type': 'string'},\n"
    "                             'level': {'type': 'string', 'enum': ['low', "
    "'high']}}}\n"
    "    q = run('core.ask', {'prompt': 'Deploy?', 'schema': schema}, key='operator')\n"
    "    check(wait(q['id'])['status'] == 'pending', 'pending')\n"
    "    form = until('the inquiry form',\n"
    "                 lambda: B.find_element(By.CSS_SELECTOR, 'form[data-id=\"%s\"]' % "
    "q['id']))\n"
    "    check('Deploy?' in form.text, form.text)\n"
    "    form.find_element(By.NAME, 'approved').send_keys(Keys.SPACE)\n"
    "    form.find_element(By.NAME, 'reason').send_keys('looks fine')\n"
    "    form.find_element(By.NAME, 'level').send_keys('high')\n"
    "    shot('3-inquiry')\n"
    "    form.find_element(By.NAME, 'reason').send_keys(Keys.ENTER)\n"
    "    e = wait(q['id'], want=('succeeded', 'failed'))\n"
    "    check(e['status'] == 'succeeded', e)\n"
    "    check(e['result']['response'] == {'approved': True, 'reason': 'looks fine',\n"
    "                                      'level': 'high'}, e['result'])\n"
    "    until('the form gone', lambda: not B.find_elements(By.CSS_SELECTOR,\n"
    "          'form[data-id=\"%s\"]' % q['id']))\n"
    "    # A rule disabled in the page stops firing (an enabled rule on the same\n"
    "    # trigger shows the event was processed)\n"
    "    def fire(n, want):\n"
    "        expect(202, 'POST', '/webhooks/st2', key='operator',\n"
    "               body={'trigger': 'test.hook', 'payload': {'n': n}})\n"
    "        for _ in range(200):\n"
    "            got = sorted(x['rule']['ref'] for x in expect(200, 'GET',\n"
    "                         '/executions?action=test.step&limit=50')\n"
    "                         if x['parameters'].get('n') == n)\n"
    "            if got == want: break\n"
    "            time.sleep(0.05)\n"
    "        time.sleep(1)  # nothing more comes\n"
    "        return sorted(x['rule']['ref'] for x in expect(200, 'GET',\n"
    "                      '/executions?action=test.step&limit=50')\n"
    "                      if x['parameters'].get('n') == n)\n"
    "    check(fire(10, ['test.other', 'test.step']) == ['test.other', 'test.step'], "
    "'fired')\n"
    "    B.refresh()\n"
    "    toggle = until('the rule row', lambda: B.find_element(By.CSS_SELECTOR,\n"
    "                   'tr[data-ref=\"test.step\"] button'))\n"
    "    check(toggle.text == 'Disable', toggle.text)\n"
    "    toggle.click()\n"
    "    until('the rule disabled', lambda: B.find_element(By.CSS_SELECTOR,\n"
    "          'tr[data-ref=\"test.step\"] .enabled').text == 'no')\n"
    "    check(expect(200, 'GET', '/rules/test.step')['enabled'] is False, 'stored')\n"
    "    shot('4-rule-disabled')\n"
    "    check(fire(11, ['test.other']) == ['test.other'], 'the disabled rule fired')\n"
    "    finish(0)\n"
    "except SystemExit: raise\n"
    "except BaseException:\n"
    "    traceback.print_exc(); shot('failed'); finish(1)\n";

Test (http_browser, operator_page)
{
    testing_http_start (NULL);
    testing_rmtree (ARTIFACTS);
    cr_assert_eq (zsys_dir_create ("%s", ARTIFACTS), 0);
    setenv ("ATTUNE_ARTIFACTS", ARTIFACTS, 1);
    setenv ("ATTUNE_TMP", s_http.daemon.root, 1);
    char *body = zsys_sprintf ("%s%s", s_browser, s_steps);
    testing_http_python ("browser", body, 150000);
    zstr_free (&body);
    char shot[PATH_MAX];
    snprintf (shot, sizeof shot, "%s/4-rule-disabled.png", ARTIFACTS);
    cr_assert_eq (access (shot, R_OK), 0, "no screenshot at %s", shot);
}
