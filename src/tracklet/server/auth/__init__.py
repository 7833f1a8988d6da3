"""`tracklet server --auth`: users, HTTP Basic authentication (or a user's access token) and permissions
per experiment and registered model, compatible with MLflow's basic-auth app (`rules` says who may call
what, `guard` enforces it, `server/api/users.py` manages users and permissions, `server/api/tokens.py`
access tokens)."""
