"""ClaimFlow's shared schema package: event contracts, topic registry, domain value types,
and the thin runtime kit every service uses."""
