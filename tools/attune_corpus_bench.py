#!/usr/bin/python3
"""attune_corpus_bench: load time and resident memory of a packs directory.

    tools/attune_corpus_bench.py ATTUNED PACKS [RUNS [SETTLE [attuned flags]]]

attuned on PACKS against attuned on an empty packs directory, each RUNS
times (best of): the time from exec to 'attuned: running', and VmRSS
SETTLE seconds later (default 3: the replicas in rules, executor and sensor
have taken their snapshots; each keeps only what its actor reads,
REGISTRY_KEEP_* in actors/registry/registry_client.h); the difference per
action loaded. tests/test_st2_memory.c reports the heap of the registry
actor and of each replica per action. More flags
go to attuned (--actors registry,api: the registry's catalog alone)."""
import os, re, shutil, subprocess, sys, tempfile, time

ATTUNED = sys.argv[1]
CORPUS = sys.argv[2]
RUNS = int(sys.argv[3]) if len(sys.argv) > 3 else 3
SETTLE = float(sys.argv[4]) if len(sys.argv) > 4 else 3.0
EXTRA = sys.argv[5:]  # more attuned flags, e.g. --actors registry,api

def once(packs):
    root = tempfile.mkdtemp(prefix='corpus-')
    log = open(os.path.join(root, 'log'), 'w+')
    api = facts = 'tcp://127.0.0.1:*'  # free ports
    t0 = time.monotonic()
    p = subprocess.Popen([ATTUNED, '--data', os.path.join(root, 'data'), '--packs', packs,
                          '--api', api, '--api-facts', facts] + EXTRA,
                         stdout=log, stderr=subprocess.STDOUT)
    loaded = None
    while time.monotonic() - t0 < 120:
        log.seek(0); text = log.read()
        if 'attuned: running' in text:
            break
        time.sleep(0.005)
    t = time.monotonic() - t0
    rss_of = lambda: int(re.search(r'VmRSS:\s+(\d+)', open('/proc/%d/status' % p.pid).read()).group(1))
    if p.poll() is not None:
        log.seek(0); sys.exit('attuned exited %s:\n%s' % (p.returncode, log.read()[-3000:]))
    rss0 = rss_of()
    time.sleep(SETTLE)
    rss = rss_of()
    log.seek(0); text = log.read()
    m = re.search(r'registry: (\d+) packs, (\d+) actions', text)
    errors = re.search(r'(\d+) load errors', text)
    p.terminate(); p.wait()
    shutil.rmtree(root, ignore_errors=True)
    return t, rss, int(m.group(2)), int(errors.group(1))

empty = tempfile.mkdtemp(prefix='empty-packs-')
base = [once(empty) for _ in range(RUNS)]
full = [once(CORPUS) for _ in range(RUNS)]
os.rmdir(empty)
bt = min(b[0] for b in base); brss = min(b[1] for b in base)
ft = min(f[0] for f in full); frss = min(f[1] for f in full)
actions = full[0][2]
print('empty packs dir: start %.3f s, RSS %d KiB (best of %d)' % (bt, brss, RUNS))
print('corpus %s: %d actions, %d load errors; start %.3f s, RSS %d KiB (best of %d)'
      % (CORPUS, actions, full[0][3], ft, frss, RUNS))
print('corpus load: +%.3f s; +%d KiB RSS = %.1f KiB per action'
      % (ft - bt, frss - brss, (frss - brss) / max(actions, 1)))
