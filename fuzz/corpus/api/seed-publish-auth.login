POST /api/v1/events
content-type: application/json
idempotency-key: k1

{"event_type": "auth.login", "data": {"user_id": "u-7", "username": "jdoe", "ip_address": "198.51.100.7", "method": "password"}, "metadata": {"source": "crm"}}