"""Webhooks of the model registry, as MLflow's server has them: which events exist and what is sent for
each (`events.py`), where a delivery may go (`destinations.py`), how secrets are kept (`secrets.py`), and
the deliveries themselves (`delivery.py`). The REST API is `tracklet/server/api/webhooks.py`, the rows
`tracklet/store/webhooks.py`."""
