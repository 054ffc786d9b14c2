"""attune's stand-in for StackStorm's st2common: only the names packs import
(st2common.runners.base_action.Action). attune's own code (attune_st2)."""
