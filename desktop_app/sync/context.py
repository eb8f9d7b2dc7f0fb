"""What one job needs: settings, who asked, the API clients, progress and cancellation.

Clients are created on first use, so a job that only touches the database (a replay of a
document that needs mapping) never logs on anywhere. Factories are injectable for tests.

SYSPRO allows one live e.net session per operator and a second Logon evicts the first, so a job
holds one session for all its flows (docs/architecture.md §3.4): `enet_session()` logs on at the first flow that
needs SYSPRO e.net, and `end_enet_session()` (run by the cycle and by `close()`) logs off.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from desktop_app.core import liveness
from desktop_app.core.config import Settings, load_settings

if TYPE_CHECKING:
    from desktop_app.servicetitan.client import ServiceTitanClient
    from desktop_app.syspro.enet import EnetClient, EnetSession
    from desktop_app.syspro.odata import ODataReader

log = logging.getLogger("desktop_app.sync")

ProgressCallback = Callable[[int, int, str], None]


class Cancelled(Exception):
    """The user asked to stop; raised between documents, never in the middle of one."""


@dataclass
class SyncContext:
    settings: Settings
    actor: str = "scheduler"  # scheduler | sync-now | cli | user-retry | demo
    dry_run: bool = False
    st_factory: Callable[[Settings], ServiceTitanClient] | None = None
    enet_factory: Callable[[Settings], EnetClient] | None = None
    odata_factory: Callable[[Settings], ODataReader | None] | None = None
    progress_callback: ProgressCallback | None = None
    cancel_event: threading.Event = field(default_factory=threading.Event)
    # a scheduled cycle's: how long what rarely changes may go unread (sync/freshness.py); None reads all
    refresh_every: dt.timedelta | None = None
    _st: ServiceTitanClient | None = None
    _enet: EnetClient | None = None
    _odata: ODataReader | None = None
    _odata_made: bool = False
    _enet_logon: AbstractContextManager | None = None
    _enet_session: EnetSession | None = None
    _enet_logon_failed: Exception | None = None

    @classmethod
    def from_database(cls, **kwargs: Any) -> SyncContext:
        return cls(settings=load_settings(), **kwargs)

    @property
    def st(self) -> ServiceTitanClient:
        if self._st is None:
            if self.st_factory is not None:
                self._st = self.st_factory(self.settings)
            else:
                from desktop_app.servicetitan.client import ServiceTitanClient

                self._st = ServiceTitanClient.from_settings(self.settings)
        return self._st

    @contextmanager
    def servicetitan_as(self, wrap: Callable[[ServiceTitanClient], Any]) -> Iterator[None]:
        """Inside the block `st` is `wrap(st)`: the rehearsal's client that refuses to write."""
        kept = self.st
        self._st = wrap(kept)
        try:
            yield
        finally:
            self._st = kept

    @property
    def enet(self) -> EnetClient:
        if self._enet is None:
            if self.enet_factory is not None:
                self._enet = self.enet_factory(self.settings)
            else:
                from desktop_app.syspro.enet import EnetClient

                self._enet = EnetClient.from_settings(self.settings)
        return self._enet

    def enet_session(self) -> EnetSession:
        """The job's one e.net session, logged on at the first call and shared by every flow.

        A session SYSPRO has dropped meanwhile is logged on again by the session itself, call by
        call (a write answered "Invalid UserId" is re-sent once; any other loss is looked up first).
        A refused logon is not tried again in the same job: each try could count towards locking
        the operator out.
        """
        if self._enet_session is None:
            if self._enet_logon_failed is not None:
                raise self._enet_logon_failed
            logon = self.enet.session()
            try:
                self._enet_session = logon.__enter__()
            except Exception as exc:
                from desktop_app.syspro.errors import LogonFailed

                if isinstance(exc, LogonFailed):
                    self._enet_logon_failed = exc
                raise
            self._enet_logon = logon
        return self._enet_session

    @contextmanager
    def shared_enet_session(self) -> Iterator[EnetSession]:
        """`with ctx.shared_enet_session() as session:` - the job's session; leaving the block does
        not log off (the cycle does, once, at its end)."""
        yield self.enet_session()

    def end_enet_session(self) -> None:
        """Log off, if logged on; the next `enet_session()` logs on again."""
        logon, self._enet_logon, self._enet_session = self._enet_logon, None, None
        if logon is not None:
            try:
                logon.__exit__(None, None, None)
            except Exception:  # a failed logoff must not hide the job's own outcome; the session times out
                log.warning("Logging off from SYSPRO failed", exc_info=True)

    @property
    def odata(self) -> ODataReader | None:
        """None when no OData URL is configured: look-ups then fall back to e.net queries."""
        if not self._odata_made:
            self._odata_made = True
            if self.odata_factory is not None:
                self._odata = self.odata_factory(self.settings)
            elif self.settings["syspro.odata_url"]:
                from desktop_app.syspro.odata import ODataReader

                self._odata = ODataReader.from_settings(self.settings)
                if self.refresh_every is not None:
                    # the site's columns are read again once the refresh time is up, not in every cycle
                    self._odata.schema_max_age = self.refresh_every.total_seconds()
        return self._odata

    def progress(self, done: int, total: int, message: str) -> None:
        if self.progress_callback is not None:
            self.progress_callback(done, total, message)

    def check_cancelled(self) -> None:
        liveness.beat()  # called between documents: the engine is getting on
        if self.cancel_event.is_set():
            raise Cancelled("stopped at the user's request")

    def close(self) -> None:
        self.end_enet_session()
        for client in (self._st, self._enet, self._odata):
            close = getattr(client, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # closing must not hide the job's own outcome
                    log.debug("closing a client failed", exc_info=True)
