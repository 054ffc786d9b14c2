/*  attuned_python: what this process's python-script actions are told
    through the environment (actors/worker/worker_python.h): the api they
    reach the datastore by (ATTUNE_API), the packs' virtualenvs
    (ATTUNE_VIRTUALENVS = <data>/virtualenvs) and the pack configs
    (ATTUNE_CONFIGS = --configs, else <packs>/../configs). Set before any
    actor starts; a value already in the environment is kept.
*/
#ifndef ATTUNED_PYTHON_H_INCLUDED
#define ATTUNED_PYTHON_H_INCLUDED

void attuned_python_environment (const char *data_dir, const char *packs_dir,
                                 const char *configs_dir, const char *api);

#endif
