/*  pack_config: a pack's configuration, as StackStorm's pack configs.

    A pack may declare `config.schema.yaml` (at its root): a mapping of
    key -> {type, required, default, secret, description, properties}. Its
    values come from `<configs>/<pack>.yaml`, where <configs> is, in order:
    the `configs_dir` given, $ATTUNE_CONFIGS (attuned's --configs sets it),
    or `configs/` next to the packs directory (<packs>/../configs, as
    StackStorm's /opt/stackstorm/configs sits next to its packs).

    pack_config_load reads both, fills defaults (nested objects too),
    checks required keys and types, and collects the values of `secret:
    true` keys so callers can mask them. Errors name the file, the line and
    the key: "configs/aws.yaml:3: region: expected string, got integer",
    "configs/aws.yaml: api_key: required by config.schema.yaml:2, missing".
    As StackStorm (st2's ConfigsRegistrar): a pack without a config file
    gets the schema's defaults and nothing is checked; a pack without a
    schema takes its config file as it is; with neither, the empty config.
*/
#ifndef PACK_CONFIG_H_INCLUDED
#define PACK_CONFIG_H_INCLUDED

#include <stddef.h>
#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PACK_CONFIG_MASK     "********"
#define PACK_CONFIG_MASK_MIN 3 //  shorter secret values are not masked in text

//  Load pack `pack`'s config (pack_dir is <packs>/<pack>). 0 with *config_p
//  (an object) and *secrets_p (an array of the secret values as strings)
//  owned by the caller (either pointer may be NULL: not wanted); -1 with
//  `message` as above.
int pack_config_load (const char *pack_dir, const char *pack, const char *configs_dir,
                      json_t **config_p, json_t **secrets_p, char *message, size_t size);

//  The directory of pack configs for pack_dir (see above). Caller frees.
char *pack_config_dir (const char *pack_dir, const char *configs_dir);

//  Replace every occurrence of each secret value (strings of at least
//  PACK_CONFIG_MASK_MIN bytes) in every string of `value`, keys included,
//  by PACK_CONFIG_MASK. Returns a new reference (the same value when there
//  is nothing to mask).
json_t *pack_config_mask (json_t *value, const json_t *secrets);

//  The same in one string: a new string (caller frees), or NULL when it
//  holds no secret.
char *pack_config_mask_text (const char *text, size_t size, const json_t *secrets,
                             size_t *masked_size);

#ifdef __cplusplus
}
#endif

#endif
