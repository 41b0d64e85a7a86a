"""HTTP routes: parse, call a service, shape the response. Nothing else happens here."""
