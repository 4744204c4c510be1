"""Events and their delivery: types, the broker (memory or Redis), per-user logs, membership."""
