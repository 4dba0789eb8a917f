"""The provider registry and the model catalog: providers, models, prices, the seed
and the cached snapshot the call path reads. What a provider and a model may hold is
defined once, in schemas.py."""
