"""The provider registry and the model catalog: providers, models, prices, the seed
and the cached snapshot the call path reads."""
