"""Where the journal may send: the hosts the operator allows.

A centre's admin sets the receiver and token endpoint, but the worker calls them from
the operator's network, where internal services answer too. With
``DHO_JOURNAL_RECEIVER_HOSTS`` set (a comma-separated list of host names, e.g. the
municipality's VKP gateway and HelseID), a URL whose host is not on it is refused when
the admin sets it (a 422) and again before every send (the list may have shrunk).
Unset, any host is allowed, and the network's own egress rules are the fence.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from service.settings import Settings


def allowed_hosts(settings: Settings) -> frozenset[str]:
    return frozenset(
        h.strip().lower() for h in settings.journal_receiver_hosts.split(",") if h.strip()
    )


def allowed(settings: Settings, url: str) -> bool:
    hosts = allowed_hosts(settings)
    if not hosts:
        return True
    host = (urlsplit(url).hostname or "").lower()
    return host in hosts
