"""Mappings: one editable grid per kind (vendors, items, GL accounts, branches, warehouses).

A cell is checked with the engine's rules as it is typed in; a row is saved only when it is
whole. What is still missing (and how many invoices it holds back) is listed under each grid.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QModelIndex, QSortFilterProxyModel, Qt, Slot
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStyledItemDelegate,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop_app.sync import code_lists, mappings
from desktop_app.sync.suggestions import suggestions_for
from desktop_app.ui.mapping_model import (
    KIND_TITLES,
    MappingTableModel,
    MissingModel,
    ProposalModel,
    delete_rows,
    import_file,
    is_code_column,
    load_rows,
    prefill_for_missing,
    proposal_row,
    store_many,
    store_row,
)
from desktop_app.ui.widgets import (
    PROBLEM_BACKGROUND,
    SearchBox,
    StatusLine,
    add_shortcut,
    plural,
    show_error,
    show_message,
)

ACTOR = "user"
KIND_NOUNS = {"vendors": "vendor", "items": "item", "gl": "GL account", "branches": "branch",
              "warehouses": "warehouse"}


def _friendly(message: str) -> str:
    if "UNIQUE constraint failed" in message:
        return "another mapping already uses that ServiceTitan key"
    return message


class CodeDelegate(QStyledItemDelegate):
    """SYSPRO code cells: an editable combo with completion from the cached code lists.

    Free text stays allowed (the lists may be stale); the model validates whatever is typed.
    """

    def __init__(self, kind, parent=None):
        super().__init__(parent)
        self.kind = kind
        self.codes: dict[str, list[list[str]]] = {}

    def paint(self, painter, option, index):
        super().paint(painter, option, index)
        # the problem background is hidden under the selection colour: a red frame shows through
        if index.data(Qt.ItemDataRole.BackgroundRole) == PROBLEM_BACKGROUND:
            painter.save()
            painter.setPen(QPen(QColor("#DC2626"), 2))
            painter.drawRect(option.rect.adjusted(1, 1, -1, -1))
            painter.restore()

    def createEditor(self, parent, option, index):
        source = index.model().mapToSource(index) if hasattr(index.model(), "mapToSource") else index
        if not is_code_column(self.kind, source.column()):
            return super().createEditor(parent, option, index)
        combo = QComboBox(parent)
        combo.setEditable(True)
        combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        for entry in self.codes.get(self.kind.columns[source.column()].kind, []):
            code, name = entry[0], entry[1] if len(entry) > 1 else ""
            combo.addItem(f"{code}", code)
            combo.setItemData(combo.count() - 1, name, Qt.ItemDataRole.ToolTipRole)
        completer = QCompleter(combo.model(), combo)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        combo.setCompleter(completer)
        return combo

    def setEditorData(self, editor, index):
        if isinstance(editor, QComboBox):
            editor.setEditText(index.data(Qt.ItemDataRole.EditRole) or "")
        else:
            super().setEditorData(editor, index)

    def setModelData(self, editor, model, index):
        if isinstance(editor, QComboBox):
            model.setData(index, editor.currentText(), Qt.ItemDataRole.EditRole)
        else:
            super().setModelData(editor, model, index)


class SuggestionsDialog(QDialog):
    """Proposed matches; the user ticks the ones to save. Nothing is applied without a tick."""

    def __init__(self, kind_name: str, proposals: list[dict], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Suggested {KIND_TITLES[kind_name].lower()} matches")
        self.resize(760, 420)
        layout = QVBoxLayout(self)
        intro = QLabel(f"{plural(len(proposals), 'possible match', 'possible matches')} found by comparing codes "
                       "and names. Tick the ones that are right; only those are saved.", self)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.model = ProposalModel(proposals, self)
        self.view = QTableView(self)
        self.view.setModel(self.model)
        self.view.verticalHeader().hide()
        self.view.setAlternatingRowColors(True)
        self.view.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.view, 1)
        row = QHBoxLayout()
        self.check_all = QPushButton("Tick all", self)
        self.check_none = QPushButton("Untick all", self)
        self.check_all.clicked.connect(lambda: self.model.set_all(True))
        self.check_none.clicked.connect(lambda: self.model.set_all(False))
        row.addWidget(self.check_all)
        row.addWidget(self.check_none)
        row.addStretch(1)
        self.buttons = QDialogButtonBox(self)
        self.save_button = self.buttons.addButton("Save ticked", QDialogButtonBox.ButtonRole.AcceptRole)
        self.reject_button = self.buttons.addButton("Reject all", QDialogButtonBox.ButtonRole.RejectRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        row.addWidget(self.buttons)
        layout.addLayout(row)

    def accepted_proposals(self) -> list[dict]:
        return self.model.accepted()


class MappingGrid(QWidget):
    """One kind's grid, its toolbar and its list of missing keys."""

    def __init__(self, bridge, kind_name: str, status: StatusLine, parent: QWidget | None = None):
        super().__init__(parent)
        self.bridge = bridge
        self.kind = mappings.kind_for(kind_name)
        self.status = status
        self.loaded = False
        self.last_message = None
        self.suggestions_dialog: SuggestionsDialog | None = None
        self._after_load: list = []
        self._note = ""  # what undo did, told together with the save that follows it

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        bar = QHBoxLayout()
        self.add_button = QPushButton("Add row", self)
        self.delete_button = QPushButton("Delete…", self)
        self.undo_button = QPushButton("Undo", self)
        self.undo_button.setToolTip("Undo the last edit (Ctrl+Z)")
        self.import_button = QPushButton("Import CSV…", self)
        self.export_button = QPushButton("Export CSV…", self)
        self.suggest_button = QPushButton("Suggest matches", self)
        self.suggest_button.setToolTip("Compare ServiceTitan and SYSPRO codes and names, and propose mappings")
        self.suggest_button.setVisible(kind_name in ("vendors", "items"))
        self.search_box = SearchBox(f"Filter {KIND_TITLES[kind_name].lower()}", self)
        for button in (self.add_button, self.delete_button, self.undo_button, self.import_button,
                       self.export_button, self.suggest_button):
            bar.addWidget(button)
        bar.addStretch(1)
        bar.addWidget(self.search_box)
        layout.addLayout(bar)

        self.model = MappingTableModel(self.kind, self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.view = QTableView(self)
        self.view.setModel(self.proxy)
        self.view.setAlternatingRowColors(True)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                  | QAbstractItemView.EditTrigger.EditKeyPressed
                                  | QAbstractItemView.EditTrigger.AnyKeyPressed)
        self.view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # table order until asked
        self.view.setSortingEnabled(True)
        self.view.horizontalHeader().setStretchLastSection(True)
        self.view.verticalHeader().setDefaultSectionSize(24)
        self.delegate = CodeDelegate(self.kind, self.view)
        self.view.setItemDelegate(self.delegate)

        missing = QWidget(self)
        missing_layout = QVBoxLayout(missing)
        missing_layout.setContentsMargins(0, 4, 0, 0)
        head = QHBoxLayout()
        self.missing_label = QLabel("", missing)
        self.missing_label.setStyleSheet("font-weight: 600; color: #92400E;")
        self.add_missing_button = QPushButton("Add mapping for selected", missing)
        head.addWidget(self.missing_label, 1)
        head.addWidget(self.add_missing_button)
        missing_layout.addLayout(head)
        self.missing_model = MissingModel(self)
        self.missing_view = QTableView(missing)
        self.missing_view.setModel(self.missing_model)
        self.missing_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.missing_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.missing_view.verticalHeader().hide()
        self.missing_view.horizontalHeader().setStretchLastSection(True)
        self.missing_view.setToolTip("Double-click a key to add its mapping")
        missing_layout.addWidget(self.missing_view)
        self.missing_panel = missing
        missing.hide()

        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(self.view)
        splitter.addWidget(missing)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        layout.addWidget(splitter, 1)

        self.add_button.clicked.connect(lambda: self.add_row())
        self.delete_button.clicked.connect(self.delete_selected)
        self.undo_button.clicked.connect(self.undo)
        self.import_button.clicked.connect(self.import_csv)
        self.export_button.clicked.connect(self.export_csv)
        self.suggest_button.clicked.connect(self.suggest)
        self.search_box.searchChanged.connect(self.proxy.setFilterFixedString)
        self.add_missing_button.clicked.connect(self._add_selected_missing)
        self.missing_view.doubleClicked.connect(self._add_missing_at)
        self.model.saveRequested.connect(self._save)
        self.model.deleteRequested.connect(self._delete)
        self.model.undoChanged.connect(self.undo_button.setEnabled)
        self.model.rowProblems.connect(lambda text: self.status.failed(f"Not saved yet: {text}."))
        self.undo_button.setEnabled(False)

    # -- loading
    def reload(self) -> None:
        self.bridge.db_call(lambda: load_rows(self.kind.name), on_done=self._loaded,
                            on_error=lambda m: self.status.failed(f"The {self.title} could not be read: {m}"))

    @property
    def title(self) -> str:
        return KIND_TITLES[self.kind.name].lower() + " mappings"

    def _loaded(self, result) -> None:
        records, blocked = result
        self.model.load(records)
        self._show_missing(blocked)
        self.view.resizeColumnsToContents()
        self.view.horizontalHeader().setStretchLastSection(True)
        self.loaded = True
        callbacks, self._after_load = self._after_load, []
        for callback in callbacks:
            callback()

    def reload_missing(self) -> None:
        self.bridge.db_call(lambda: mappings.blocked_counts(self.kind.name), on_done=self._show_missing)

    def _show_missing(self, blocked: dict) -> None:
        self.missing_model.set_entries(blocked)
        count = len(self.missing_model.rows)
        self.missing_panel.setVisible(count > 0)
        self.missing_label.setText(
            f"Missing: {plural(count, KIND_NOUNS[self.kind.name] + ' key')} holding back "
            f"{plural(self.missing_model.total_blocked(), 'invoice')}")
        self.missing_view.resizeColumnsToContents()
        self.missing_view.horizontalHeader().setStretchLastSection(True)
        parent = self.parent()
        while parent is not None and not isinstance(parent, MappingsPage):
            parent = parent.parent()
        if parent is not None:
            parent.update_tab_title(self)

    def when_loaded(self, callback) -> None:
        if self.loaded:
            callback()
        else:
            self._after_load.append(callback)

    # -- editing
    def add_row(self, prefill: dict | None = None) -> int:
        self.proxy.setFilterFixedString("")
        self.search_box.blockSignals(True)
        self.search_box.clear()
        self.search_box.blockSignals(False)
        row = self.model.add_row(prefill)
        self._focus_row(row, first_blank=True)
        return row

    def _focus_row(self, row: int, first_blank: bool = False) -> None:
        column = 0
        if first_blank:
            values = self.model.rows[row].values
            blanks = [i for i, c in enumerate(self.kind.columns) if c.required and not values.get(c.name)]
            column = blanks[0] if blanks else 0
        index = self.proxy.mapFromSource(self.model.index(row, column))
        self.view.setCurrentIndex(index)
        self.view.scrollTo(index)

    def select_key(self, key) -> bool:
        row = self.model.find_key(key)
        if row < 0:
            return False
        self.proxy.setFilterFixedString("")
        self.search_box.clear()
        self.view.selectRow(self.proxy.mapFromSource(self.model.index(row, 0)).row())
        self._focus_row(row, first_blank=True)
        return True

    def add_missing(self, key) -> None:
        """Select the row for `key`, or add one pre-filled from the missing list."""
        if self.select_key(key):
            return
        entry = next((e for e in self.missing_model.rows if str(e["key"]) == str(key)), {"key": key})
        row = self.add_row(prefill_for_missing(self.kind.name, entry))
        self.status.done(f"Added a row for {KIND_NOUNS[self.kind.name]} {key}: fill in the SYSPRO code to save it.")
        index = self.proxy.mapFromSource(self.model.index(row, self.view.currentIndex().column()))
        self.view.edit(index)

    @Slot()
    def _add_selected_missing(self) -> None:
        self._add_missing_at(self.missing_view.currentIndex())

    @Slot(QModelIndex)
    def _add_missing_at(self, index: QModelIndex) -> None:
        if index.isValid():
            self.add_missing(self.missing_model.rows[index.row()]["key"])

    @Slot()
    def delete_selected(self) -> None:
        rows = sorted({self.proxy.mapToSource(i).row() for i in self.view.selectionModel().selectedRows()})
        if not rows and self.view.currentIndex().isValid():
            rows = [self.proxy.mapToSource(self.view.currentIndex()).row()]
        if not rows:
            self.status.done("Select the rows to delete first.")
            return
        answer = QMessageBox.question(self, "Delete mappings",
                                      f"Delete {plural(len(rows), 'mapping row')}? Invoices that use "
                                      f"{'it' if len(rows) == 1 else 'them'} will wait for a mapping again. "
                                      "Ctrl+Z brings them back.")
        if answer != QMessageBox.StandardButton.Yes:
            return
        count = self.model.remove_rows(rows)
        self.status.done(f"Deleted {plural(count, 'row')}.")

    @Slot()
    def undo(self) -> None:
        self._note = self.model.undo()
        self.status.done(self._note)

    @Slot(int, object, object)
    def _save(self, uid: int, values: dict, db_id) -> None:
        self.status.busy("Saving…")
        kind_name = self.kind.name
        self.bridge.db_call(lambda: store_row(kind_name, values, db_id, ACTOR),
                            on_done=lambda new_id: self._saved(uid, new_id, values),
                            on_error=lambda message: self._save_failed(uid, message))

    def _saved(self, uid: int, db_id: int, values: dict) -> None:
        self.model.mark_saved(uid, db_id, values)
        key = values.get(self.kind.key[0])
        if key is None and self.kind.name == "items":
            key = values.get("st_sku_code")
        note, self._note = self._note, ""
        self.status.done(f"{note} Saved the mapping of {KIND_NOUNS[self.kind.name]} {key}.".strip())
        self.bridge.dataChanged.emit("mappings")

    def _save_failed(self, uid: int, message: str) -> None:
        sentence = _friendly(message)
        self.model.mark_failed(uid, sentence)
        self.status.failed(f"The row was not saved: {sentence}.")

    @Slot(object)
    def _delete(self, db_ids: list[int]) -> None:
        kind_name = self.kind.name
        self.bridge.db_call(lambda: delete_rows(kind_name, db_ids),
                            on_done=lambda _n: self.bridge.dataChanged.emit("mappings"),
                            on_error=lambda m: self._action_failed("The rows could not be deleted", m))

    # -- files
    @Slot()
    def import_csv(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, f"Import {self.title}", "", "CSV files (*.csv);;All files (*)")
        if not path:
            return
        name = Path(path).name
        self.status.busy(f"Importing {name}…")
        self.import_button.setEnabled(False)
        kind_name = self.kind.name
        self.bridge.db_call(lambda: import_file(kind_name, path, ACTOR),
                            on_done=lambda result: self._imported(name, result),
                            on_error=lambda m: self._import_error(name, m))

    def _imported(self, name: str, result) -> None:
        self.import_button.setEnabled(True)
        count, problems = result
        if problems:
            lines = [f"Line {line}: {message}" for line, message in problems]
            sentence = (f"Nothing was imported from {name}: "
                        f"{plural(len(problems), 'problem')} must be fixed first.")
            self.status.failed(sentence)
            show_message(self, "Import CSV", sentence, informative="\n".join(lines[:20])
                         + ("\n…" if len(lines) > 20 else ""), details="\n".join(lines))
            return
        self.status.done(f"Imported {plural(count, 'row')} from {name}.")
        self.reload()
        self.bridge.dataChanged.emit("mappings")

    def _import_error(self, name: str, message: str) -> None:
        self.import_button.setEnabled(True)
        self._action_failed(f"{name} could not be imported", message)

    @Slot()
    def export_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, f"Export {self.title}", f"{self.kind.name}-mappings.csv",
                                              "CSV files (*.csv)")
        if not path:
            return
        kind_name = self.kind.name
        self.status.busy("Exporting…")
        self.bridge.db_call(lambda: mappings.export_csv(kind_name, path),
                            on_done=lambda n: self.status.done(f"Exported {plural(n, 'row')} to {path}."),
                            on_error=lambda m: self._action_failed(f"{Path(path).name} could not be written", m))

    # -- suggestions
    @Slot()
    def suggest(self) -> None:
        self.suggest_button.setEnabled(False)
        self.status.busy("Looking for matches in ServiceTitan and SYSPRO…")
        kind_name = self.kind.name
        job = self.bridge.run_job("suggestions", lambda ctx: suggestions_for(ctx, kind_name), actor=ACTOR,
                                  on_done=self.show_suggestions, on_error=self._suggest_failed)
        if job is None:
            self.suggest_button.setEnabled(True)

    def _suggest_failed(self, message: str) -> None:
        self.suggest_button.setEnabled(True)
        self._action_failed("No suggestions could be made", message)

    def show_suggestions(self, proposals: list[dict]) -> SuggestionsDialog | None:
        self.suggest_button.setEnabled(True)
        if not proposals:
            self.status.done("No new matches were found: every code that matches is already mapped.")
            return None
        self.status.done(f"{plural(len(proposals), 'possible match', 'possible matches')} found; "
                         "tick the right ones.")
        dialog = SuggestionsDialog(self.kind.name, proposals, self)
        dialog.accepted.connect(lambda: self._apply_suggestions(dialog.accepted_proposals()))
        dialog.rejected.connect(lambda: self.status.done("No suggestions were saved."))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.suggestions_dialog = dialog
        dialog.open()
        return dialog

    def _apply_suggestions(self, accepted: list[dict]) -> None:
        if not accepted:
            self.status.done("No suggestions were ticked, so nothing was saved.")
            return
        rows, bad = [], []
        for proposal in accepted:
            values, problems = mappings.validate_row(self.kind, proposal_row(self.kind.name, proposal))
            (bad if problems else rows).append(values if not problems else
                                               f"{proposal.get('st_name') or proposal['st_id']}: "
                                               + "; ".join(problems.values()))
        kind_name = self.kind.name

        def done(count: int) -> None:
            sentence = f"Saved {plural(count, 'suggested mapping')}."
            if bad:
                sentence += f" {plural(len(bad), 'suggestion')} did not pass the checks and was left out."
            self.status.done(sentence)
            self.reload()
            self.bridge.dataChanged.emit("mappings")

        self.bridge.db_call(lambda: store_many(kind_name, rows, ACTOR), on_done=done,
                            on_error=lambda m: self._action_failed("The suggestions could not be saved", m))

    def _action_failed(self, sentence: str, message: str) -> None:
        self.status.failed(f"{sentence}: {_friendly(message)}")
        show_error(self, KIND_TITLES[self.kind.name], f"{sentence}.", message)


class MappingsPage(QWidget):
    def __init__(self, bridge, parent: QWidget | None = None):
        super().__init__(parent)
        self.bridge = bridge
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 6)
        head = QHBoxLayout()
        title = QLabel("Mappings", self)
        title.setObjectName("pageTitle")
        hint = QLabel("How ServiceTitan names translate to SYSPRO codes. Cells are checked as you type; a row is "
                      "saved when it is complete. Double-click a cell to edit it.", self)
        hint.setObjectName("hint")
        hint.setWordWrap(True)
        head.addWidget(title)
        head.addSpacing(12)
        head.addWidget(hint, 1)
        layout.addLayout(head)
        self.tabs = QTabWidget(self)
        self.status = StatusLine(self)
        self.grids: dict[str, MappingGrid] = {}
        for kind_name in mappings.KINDS:
            grid = MappingGrid(bridge, kind_name, self.status, self)
            self.grids[kind_name] = grid
            self.tabs.addTab(grid, KIND_TITLES[kind_name])
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.status)
        add_shortcut(self, "Ctrl+Z", self.undo)
        add_shortcut(self, "Ctrl+F", self.focus_search)
        add_shortcut(self, "Delete", lambda: self.current_grid().delete_selected())
        bridge.dataChanged.connect(self._data_changed)
        for grid in self.grids.values():
            grid.reload()
        bridge.db_call(code_lists.load, on_done=self._codes_loaded)

    def current_grid(self) -> MappingGrid:
        return self.tabs.currentWidget()

    def update_tab_title(self, grid: MappingGrid) -> None:
        index = self.tabs.indexOf(grid)
        if index < 0:
            return
        missing = len(grid.missing_model.rows)
        title = KIND_TITLES[grid.kind.name]
        self.tabs.setTabText(index, f"{title} ({missing} missing)" if missing else title)

    def _codes_loaded(self, lists: dict) -> None:
        for grid in self.grids.values():
            grid.delegate.codes = lists

    @Slot(str)
    def _data_changed(self, what: str) -> None:
        if what in ("invoices", "all"):
            for grid in self.grids.values():
                grid.reload_missing()
        if what in ("code_lists", "all"):
            self.bridge.db_call(code_lists.load, on_done=self._codes_loaded)

    def undo(self) -> None:
        self.current_grid().undo()

    def focus_search(self) -> None:
        self.current_grid().search_box.focus()

    def show_missing(self, kind: str, key) -> None:
        """Open the kind's grid on the row for `key`, adding a pre-filled row if there is none."""
        grid = self.grids.get(kind)
        if grid is None:
            return
        self.tabs.setCurrentWidget(grid)
        grid.when_loaded(lambda: grid.add_missing(key))

