"""A list page with a detail pane: the chosen row's detail is read on the db thread and shown when it
arrives, unless another row was chosen meanwhile (a slow answer must not replace a newer one) or the
page is gone."""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QModelIndex, Slot

from desktop_app.ui.messages import alive
from desktop_app.ui.widgets import ID_ROLE


class MasterDetailMixin:
    """For a page with `bridge`, `model` (with row_of), `table`, `detail_pane`, `status`, `selected_id`,
    `_detail_generation` and `_running` (ids with a job in flight: the pane keeps their actions off)."""

    read_detail: Callable[[int], object]  # run on the db thread; None when the row is gone
    detail_error = "The record could not be read"

    @Slot(QModelIndex, QModelIndex)
    def _row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        item_id = current.data(ID_ROLE) if current.isValid() else None
        if item_id is None:
            return
        self.selected_id = item_id
        self._load_detail(item_id)

    def select_item(self, item_id: int) -> bool:
        row = self.model.row_of(item_id)
        if row < 0:
            return False
        self.table.selectRow(row)
        self.table.setCurrentIndex(self.model.index(row, 0))
        return True

    def _reselect(self) -> None:
        """After a reload the rows are new: select the chosen one again and re-read its detail."""
        if self.selected_id is None:
            return
        row = self.model.row_of(self.selected_id)
        if row >= 0:
            # quietly: _row_changed would read the detail a second time
            self.table.selectionModel().blockSignals(True)
            self.table.selectRow(row)
            self.table.setCurrentIndex(self.model.index(row, 0))
            self.table.selectionModel().blockSignals(False)
        self._load_detail(self.selected_id)

    def _load_detail(self, item_id: int) -> None:
        self._detail_generation += 1
        generation, read = self._detail_generation, self.read_detail
        self.bridge.db_call(lambda: read(item_id),
                            on_done=lambda detail: self._detail_loaded(generation, detail),
                            on_error=lambda message: self.status.failed(f"{self.detail_error}: {message}"))

    def _detail_loaded(self, generation: int, detail) -> None:
        if generation != self._detail_generation or not alive(self):
            return
        self.detail_pane.show_detail(detail)
        if detail is not None and detail.id in self._running:
            self.detail_pane.set_actions_enabled(False)
