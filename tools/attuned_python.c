/*  attuned_python: the python-script runner's environment (attuned_python.h). */
#include "tools/attuned_python.h"

#include <czmq.h>

void
attuned_python_environment (const char *data_dir, const char *packs_dir,
                            const char *configs_dir, const char *api)
{
    char path[4096];
    snprintf (path, sizeof path, "%s/virtualenvs", data_dir);
    setenv ("ATTUNE_VIRTUALENVS", path, 0);
    if (configs_dir && *configs_dir)
        setenv ("ATTUNE_CONFIGS", configs_dir, 1);
    else {
        snprintf (path, sizeof path, "%s/../configs", packs_dir);
        setenv ("ATTUNE_CONFIGS", path, 0);
    }
    //  Actions reach the api where it listens: a wildcard host is reached on
    //  loopback; a port left to the system (:*) is not known yet: none
    if (api && strncmp (api, "inproc://", 9) != 0 && !strstr (api, ":*")) {
        char reach[512];
        if (strncmp (api, "tcp://0.0.0.0:", 14) == 0 || strncmp (api, "tcp://*:", 8) == 0)
            snprintf (reach, sizeof reach, "tcp://127.0.0.1:%s", strrchr (api, ':') + 1);
        else
            snprintf (reach, sizeof reach, "%s", api);
        setenv ("ATTUNE_API", reach, 1);
    }
}
