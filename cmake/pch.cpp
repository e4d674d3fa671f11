// Carries the precompiled header that every normlab executable reuses.
