/*  pack_venv: running a program for pack management (git, cp, python -m
    venv, pip), and a pack's Python virtualenv, for `attune pack setup-venv`
    and the registry's `api.pack.install`.

    pack_spawn runs argv without a shell (argv[0] looked up in PATH), stdin
    from /dev/null, stdout and stderr captured, in its own process group,
    killed when it outlives its time. The virtualenv is
    <data>/virtualenvs/PACK, made with `python3 -m venv
    --system-site-packages --without-pip`, and the pack's requirements.txt
    installed with pip from local paths only (--no-index; wheels/ when
    present).
*/
#ifndef PACK_VENV_H_INCLUDED
#define PACK_VENV_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Run argv (NULL-terminated) in `cwd` (NULL: here) for at most
//  `timeout_ms`. The last `output_size` - 1 bytes of its output (stdout
//  and stderr) go to `output` (may be NULL). Returns the exit code, 128 +
//  the signal when killed by one, 124 when it ran out of time (killed),
//  -1 when it could not start (errno).
int pack_spawn (const char *const argv[], const char *cwd, int timeout_ms, char *output,
                size_t output_size);

//  Make the virtualenv of pack `pack` (its files in `pack_dir`) under
//  `data_dir` with `python` (NULL: $ATTUNE_PYTHON or /usr/bin/python3) and
//  install its requirements.txt when it has one. `venv` gets the
//  virtualenv's path, `requirements` whether a requirements.txt was
//  installed. 0, or -1 with `message` saying what failed and why.
int pack_venv_setup (const char *pack_dir, const char *pack, const char *data_dir,
                     const char *python, char *venv, size_t venv_size, bool *requirements,
                     char *message, size_t message_size);

#ifdef __cplusplus
}
#endif

#endif
