"""Parameter settings at every layer, their resolution with provenance, the cache
shared by processes, profiles, features, member preferences and the explainer."""
