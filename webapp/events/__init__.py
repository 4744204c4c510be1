"""Events and their delivery: the ground floor. Event types, the broker (memory or Redis), the
per-user logs, the marks of what was published."""
