"""The payment provider's HTTP API: charges and refunds, JSON over HTTP."""

import http.client
import json
import time
import urllib.error
import urllib.request

from django.conf import settings

# The provider asks clients to retry 503s and dropped connections with
# exponential backoff.
RETRY_DELAYS = (0.2, 0.4, 0.8)


class GatewayError(Exception):
    pass


class Declined(GatewayError):
    pass


class Busy(GatewayError):
    pass


def _post_once(path, payload, idempotency_key, attempt):
    request = urllib.request.Request(
        settings.PAYMENT_GATEWAY_URL + path,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "Idempotency-Key": idempotency_key, "X-Attempt": str(attempt)},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.PAYMENT_GATEWAY_TIMEOUT) as response:
            return json.load(response)
    except urllib.error.HTTPError as e:
        body = json.load(e)
        if e.code == 402:
            raise Declined(body.get("error", "declined")) from e
        if e.code == 503:
            raise Busy(f"{path}: provider busy") from e
        raise GatewayError(f"{path}: HTTP {e.code}: {body.get('error')}") from e
    except urllib.error.URLError as e:
        if isinstance(e.reason, ConnectionResetError):
            raise Busy(f"{path}: connection reset") from e
        raise GatewayError(f"{path}: {e.reason}") from e
    except (ConnectionResetError, http.client.RemoteDisconnected) as e:
        # The idempotency key makes a retry safe.
        raise Busy(f"{path}: connection reset") from e


def _post(path, payload, idempotency_key):
    for attempt, delay in enumerate(RETRY_DELAYS + (None,), start=1):
        try:
            return _post_once(path, payload, idempotency_key, attempt)
        except Busy:
            if delay is None:
                raise
            time.sleep(delay)


def charge(amount_cents, token, idempotency_key):
    return _post("/charges", {"amount": amount_cents, "currency": settings.SHOP_CURRENCY, "source": token}, idempotency_key)


def refund(charge_id, amount_cents, idempotency_key):
    return _post("/refunds", {"charge": charge_id, "amount": amount_cents}, idempotency_key)
