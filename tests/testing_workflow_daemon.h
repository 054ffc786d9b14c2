/*  testing_workflow_daemon: the workflow suites' shared steps against a live
    attuned (tests/testing_daemon.h): a pack `wf` holding an Orquesta
    workflow that takes the input `file`, running one, and listing its
    children.
*/
#ifndef TESTING_WORKFLOW_DAEMON_H_INCLUDED
#define TESTING_WORKFLOW_DAEMON_H_INCLUDED

#include "tests/testing_api.h"
#include "tests/testing_daemon.h"

//  The pack `wf` with the workflow `wf.NAME` (orquesta) of `yaml`, taking
//  the input `file`.
static inline void
testing_workflow_write (testing_daemon_t *daemon, const char *name, const char *yaml)
{
    char path[256], action[512];
    testing_daemon_write (daemon, "wf/pack.yaml",
                          "ref: wf\nname: wf\nversion: 0.1.0\ndescription: tests\n");
    snprintf (action, sizeof action,
              "name: %s\nrunner_type: orquesta\nentry_point: workflows/%s.yaml\n"
              "enabled: true\nparameters:\n  file:\n    type: string\n    required: "
              "true\n",
              name, name);
    snprintf (path, sizeof path, "wf/actions/%s.yaml", name);
    testing_daemon_write (daemon, path, action);
    snprintf (path, sizeof path, "wf/actions/workflows/%s.yaml", name);
    testing_daemon_write (daemon, path, yaml);
}

//  Run `action` with the input `file`: its execution id (caller frees).
static inline char *
testing_workflow_run (zsock_t *api, const char *action, const char *file)
{
    json_t *result = testing_api_ok (
        api, "api.execution.run",
        json_pack ("{s:s, s:{s:s}}", "action", action, "parameters", "file", file));
    char *id = strdup (json_string_value (json_object_get (result, "execution")));
    json_decref (result);
    return id;
}

//  The children of `id` (api.execution.list parent), newest first.
static inline json_t *
testing_workflow_children (zsock_t *api, const char *id)
{
    json_t *page = testing_api_ok (api, "api.execution.list",
                                   json_pack ("{s:s, s:i}", "parent", id, "limit", 1000));
    json_t *items = json_incref (json_object_get (page, "items"));
    json_decref (page);
    return items;
}

#endif
