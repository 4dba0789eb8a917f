"""Parameter settings at every layer, their resolution with provenance, the cache
shared by processes, profiles, features, member preferences and the explainer. What a
feature and a profile may hold is defined once, in schemas.py."""
