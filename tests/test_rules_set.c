/*  test_rules_set: the rules actor's compiled rule set (rules_set.h): add,
    replace, remove, enable; the index by trigger type sorted by ref and
    rebuilt after a change; definitions that cannot be used; numbers equal
    by value.
*/
#include <criterion/criterion.h>
#include "actors/rules/rules_set.h"

static json_t *
s_rule (const char *ref, const char *trigger, bool enabled, const char *criteria)
{
    json_t *rule =
        json_pack ("{s:s, s:b, s:{s:s, s:{}}, s:{s:s, s:{s:s}}}", "ref", ref, "enabled",
                   enabled, "trigger", "type", trigger, "parameters", "action", "ref",
                   "p.act", "parameters", "n", "{{ trigger.payload.n }}");
    if (criteria)
        json_object_set_new (rule, "criteria", json_loads (criteria, 0, NULL));
    return rule;
}

static void
s_put (rules_set_t *set, const char *ref, json_t *definition)
{
    char message[512] = "";
    cr_assert_eq (rules_set_put (set, ref, definition, message, sizeof message), 0, "%s",
                  message);
    json_decref (definition);
}

Test (rules_set, indexed_by_trigger_sorted_by_ref)
{
    rules_set_t *set = rules_set_new ();
    s_put (set, "p.b", s_rule ("p.b", "p.hook", true, NULL));
    s_put (set, "p.a", s_rule ("p.a", "p.hook", true, NULL));
    s_put (set, "p.c", s_rule ("p.c", "p.other", true, NULL));
    s_put (set, "p.d", s_rule ("p.d", "p.hook", false, NULL));
    cr_assert_eq (rules_set_size (set), 4);
    cr_assert_eq (rules_set_enabled (set), 3);
    size_t count;
    rules_rule_t *const *rules = rules_set_for_trigger (set, "p.hook", &count);
    cr_assert_eq (count, 2, "disabled rules are not indexed");
    cr_assert_str_eq (rules[0]->ref, "p.a");
    cr_assert_str_eq (rules[1]->ref, "p.b");
    cr_assert_str_eq (rules[0]->action, "p.act");
    cr_assert_str_eq (rules[0]->trigger, "p.hook");
    rules = rules_set_for_trigger (set, "p.none", &count);
    cr_assert_eq (count, 0);
    cr_assert_null (rules);
    //  Enable one, remove one: the index follows
    s_put (set, "p.d", s_rule ("p.d", "p.hook", true, NULL));
    char message[256];
    cr_assert_eq (rules_set_put (set, "p.a", NULL, message, sizeof message), 0);
    rules = rules_set_for_trigger (set, "p.hook", &count);
    cr_assert_eq (count, 2);
    cr_assert_str_eq (rules[0]->ref, "p.b");
    cr_assert_str_eq (rules[1]->ref, "p.d");
    cr_assert_eq (rules_set_size (set), 3);
    //  Moved to another trigger
    s_put (set, "p.b", s_rule ("p.b", "p.other", true, NULL));
    rules = rules_set_for_trigger (set, "p.other", &count);
    cr_assert_eq (count, 2);
    cr_assert_str_eq (rules[0]->ref, "p.b");
    rules_set_destroy (&set);
    rules_set_destroy (&set);
    cr_assert_null (set);
}

Test (rules_set, criteria_are_compiled_once_and_bad_ones_drop_the_rule)
{
    rules_set_t *set = rules_set_new ();
    s_put (set, "p.a",
           s_rule ("p.a", "p.hook", true,
                   "{\"trigger.payload.n\": {\"type\": \"equals\", \"pattern\": 3}}"));
    size_t count;
    rules_rule_t *const *rules = rules_set_for_trigger (set, "p.hook", &count);
    json_t *yes =
        json_pack ("{s:{s:s, s:{s:i}}}", "trigger", "type", "p.hook", "payload", "n", 3);
    json_t *no =
        json_pack ("{s:{s:s, s:{s:i}}}", "trigger", "type", "p.hook", "payload", "n", 4);
    cr_assert (rules_criteria_match (rules[0]->criteria, yes, 0));
    cr_assert_not (rules_criteria_match (rules[0]->criteria, no, 0));
    //  An unknown operator: -1, the message names it, the rule is gone
    json_t *bad =
        s_rule ("p.a", "p.hook", true,
                "{\"trigger.payload.n\": {\"type\": \"equal\", \"pattern\": 3}}");
    char message[512] = "";
    cr_assert_eq (rules_set_put (set, "p.a", bad, message, sizeof message), -1);
    cr_assert_not_null (strstr (message, "equal"), "%s", message);
    cr_assert_eq (rules_set_size (set), 0);
    json_decref (bad);
    json_decref (yes);
    json_decref (no);
    rules_set_destroy (&set);
}

Test (rules_set, an_unchanged_definition_is_a_no_op)
{
    rules_set_t *set = rules_set_new ();
    s_put (set, "p.a", s_rule ("p.a", "p.hook", true, NULL));
    size_t count;
    rules_rule_t *const *first = rules_set_for_trigger (set, "p.hook", &count);
    rules_rule_t *rule = first[0];
    s_put (set, "p.a", s_rule ("p.a", "p.hook", true, NULL));
    rules_rule_t *const *again = rules_set_for_trigger (set, "p.hook", &count);
    cr_assert_eq (again[0], rule, "the same compiled rule");
    rules_set_destroy (&set);
}

Test (rules_set, numbers_are_the_same_by_value)
{
    json_t *a = json_loads ("{\"x\": [1, 2.0, {\"y\": 3}]}", 0, NULL);
    json_t *b = json_loads ("{\"x\": [1.0, 2, {\"y\": 3.0}]}", 0, NULL);
    json_t *c = json_loads ("{\"x\": [1, 2, {\"y\": 4}]}", 0, NULL);
    cr_assert (rules_json_same (a, b));
    cr_assert_not (rules_json_same (a, c));
    cr_assert_not (rules_json_same (a, NULL));
    json_decref (a);
    json_decref (b);
    json_decref (c);
}
