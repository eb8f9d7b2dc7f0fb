"""Packaging: one source for version and names, the installer's promises, icons and stylesheet.

The NSIS checks read installer.nsi as text (its promises are lines of script); when makensis is
on PATH the script is also compiled with -WX against a stub bundle (CI installs nsis).
"""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import desktop_app

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGING = REPO_ROOT / "packaging"
NSIS_TEXT = (REPO_ROOT / "installer.nsi").read_text(encoding="utf-8")
ICONS = REPO_ROOT / "resources" / "icons"
INVOICE_STATES = (
    "DISCOVERED", "NEEDS_MAPPING", "READY", "SKIPPED", "POSTING", "POSTED", "CONFIRMED",
    "FAILED", "IN_DOUBT", "CHANGED_IN_SOURCE",
)


def load_packaging_module(name: str):
    # packaging/ is no Python package (and `import packaging` is the PyPI library): load by path.
    spec = importlib.util.spec_from_file_location(f"_mlc_packaging_{name}", PACKAGING / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def nsis_defaults() -> dict[str, str]:
    """Fallback values of `!ifndef NAME / !define NAME "value"` blocks."""
    pattern = r'!ifndef (\w+)\s*\n\s*!define \1 "([^"]*)"'
    return dict(re.findall(pattern, NSIS_TEXT))


def nsis_defines() -> dict[str, str]:
    return dict(re.findall(r'^\s*!define (\w+) "([^"]*)"', NSIS_TEXT, flags=re.M))


def nsis_sections() -> list[tuple[str, str]]:
    """(header, body) of every Section ... SectionEnd block."""
    return re.findall(r"^(Section\b[^\n]*)\n(.*?)^SectionEnd", NSIS_TEXT, flags=re.M | re.S)


def expand(text: str, defines: dict[str, str]) -> str:
    for _ in range(5):  # defines refer to defines
        text = re.sub(r"\$\{(\w+)\}", lambda m: defines.get(m.group(1), m.group(0)), text)
    return text


# ------------------------------------------------------------------ one source of version/names
def test_build_passes_package_version_and_names_to_makensis():
    build = load_packaging_module("build")
    info = build.read_app_info()
    command = build.makensis_command("makensis", info, Path("bundle"), Path("out"))
    defines = dict(arg[2:].split("=", 1) for arg in command if arg.startswith("-D"))
    assert command[:3] == ["makensis", "-WX", "-V2"]
    assert command[-1].endswith("installer.nsi")
    assert defines["VERSION"] == desktop_app.__version__
    assert defines["VERSION_QUAD"] == ".".join((desktop_app.__version__.split(".") + ["0"] * 4)[:4])
    assert defines["APP_NAME"] == desktop_app.APP_NAME
    assert defines["DISPLAY_NAME"] == desktop_app.APP_DISPLAY_NAME
    assert defines["PUBLISHER"] == desktop_app.PUBLISHER
    assert defines["BUNDLE_DIR"] == "bundle" and defines["OUT_DIR"] == "out"


def test_installer_fallbacks_equal_the_package():
    defaults = nsis_defaults()
    if "VERSION" in defaults:
        assert defaults["VERSION"] == desktop_app.__version__
    else:
        assert re.search(r"!ifndef VERSION\s*\n\s*!error", NSIS_TEXT), "VERSION needs a default or an !error"
    assert defaults["APP_NAME"] == desktop_app.APP_NAME
    assert defaults["DISPLAY_NAME"] == desktop_app.APP_DISPLAY_NAME
    assert defaults["PUBLISHER"] == desktop_app.PUBLISHER
    assert defaults["BUNDLE_DIR"] == r"packaging\dist\${APP_NAME}"


def test_setup_file_name_agrees_between_build_and_nsis():
    build = load_packaging_module("build")
    info = build.read_app_info()
    out_file = re.search(r'^OutFile "([^"]+)"', NSIS_TEXT, flags=re.M).group(1)
    values = {**nsis_defines(), **build.makensis_defines(info, Path("b"), Path("out"))}
    expected = build.setup_exe_path(info, Path("out"))
    assert expand(out_file, values).replace("\\", "/") == expected.as_posix()


def test_app_info_version_quad_handles_pre_releases():
    appinfo = load_packaging_module("appinfo")
    assert appinfo.AppInfo("a", "a", "a", "1.2.0rc1").version_tuple == (1, 2, 0, 0)
    assert appinfo.AppInfo("a", "a", "a", "2").version_quad == "2.0.0.0"
    assert appinfo.AppInfo("a", "a", "a", "0.3.1.dev4+g1").version_quad == "0.3.1.0"


def test_windows_version_resource_carries_package_version():
    appinfo = load_packaging_module("appinfo")
    info = appinfo.read_app_info()
    text = appinfo.windows_version_info_text(info)
    compile(text, "version_info.txt", "eval")  # PyInstaller evaluates this file
    assert f"filevers={info.version_tuple}" in text
    assert f"StringStruct('ProductVersion', {desktop_app.__version__!r})" in text
    assert f"StringStruct('OriginalFilename', '{desktop_app.APP_NAME}.exe')" in text


def test_spec_is_valid_python_and_bundles_resources_and_sandbox():
    spec_text = (PACKAGING / "ml-connector.spec").read_text(encoding="utf-8")
    compile(spec_text, "ml-connector.spec", "exec")
    assert 'collect_submodules("desktop_app")' in spec_text  # the sandbox comes with it
    assert '(str(REPO_ROOT / "resources"), "resources")' in spec_text
    assert "console=not IS_WINDOWS" in spec_text
    assert "keyring.backends.Windows" in spec_text and '"tzdata"' in spec_text


def run_spec(monkeypatch, extra_pure: tuple[tuple[str, Path], ...] = ()) -> dict:
    """Execute ml-connector.spec with PyInstaller's build steps stubbed (no build): returns the
    arguments the spec gave Analysis. `extra_pure` adds (module, file) to what the analysis found."""
    import types

    app_modules = sorted(
        ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in (REPO_ROOT / "desktop_app").rglob("*.py"))
    hooks = types.ModuleType("PyInstaller.utils.hooks")
    hooks.collect_submodules = lambda package: [m for m in app_modules if m.split(".")[0] == package]
    hooks.collect_data_files = lambda package: []
    for name in ("PyInstaller", "PyInstaller.utils"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "PyInstaller.utils.hooks", hooks)
    monkeypatch.setitem(sys.modules, "appinfo", load_packaging_module("appinfo"))
    monkeypatch.setattr(sys, "path", list(sys.path))
    seen: dict = {}

    def analysis(scripts, **kwargs):
        seen.update(kwargs)
        found = [(name, REPO_ROOT.joinpath(*name.split(".")).with_suffix(".py")) for name in kwargs["hiddenimports"]]
        pure = [(name, str(path), "PYMODULE") for name, path in [*found, *extra_pure]]
        return types.SimpleNamespace(pure=pure, datas=[], binaries=[], scripts=[])

    stub = lambda *args, **kwargs: types.SimpleNamespace()  # noqa: E731
    spec_path = PACKAGING / "ml-connector.spec"
    code = compile(spec_path.read_text(encoding="utf-8"), str(spec_path), "exec")
    exec(code, {"SPECPATH": str(PACKAGING), "workpath": str(REPO_ROOT / "build"), "Analysis": analysis,
                "PYZ": stub, "EXE": stub, "COLLECT": stub, "__name__": "__main__"})
    return seen


def test_the_bundle_leaves_out_the_tests_their_harness_and_test_tools(monkeypatch):
    excludes = set(run_spec(monkeypatch)["excludes"])
    assert {"tests", "pytest", "_pytest", "pytestqt", "hypothesis"} <= excludes


def test_a_build_whose_analysis_finds_a_test_module_fails(monkeypatch):
    # as if a module of the app imported the harness: the analysis would follow it into the bundle
    harness = ("reliability.scenarios", REPO_ROOT / "tests" / "reliability" / "scenarios.py")
    with pytest.raises(SystemExit, match=r"test-only modules \['reliability.scenarios'\]"):
        run_spec(monkeypatch, extra_pure=(harness,))
    with pytest.raises(SystemExit, match=r"test-only modules \['hypothesis.strategies'\]"):
        run_spec(monkeypatch, extra_pure=(("hypothesis.strategies", Path("site-packages/hypothesis/strategies.py")),))
    run_spec(monkeypatch, extra_pure=(("requests", Path("site-packages/requests/__init__.py")),))


def test_no_module_of_the_app_imports_tests_or_test_tools(monkeypatch):
    """The bundle collects every module under desktop_app/; none may pull in the test suite, its
    harness (tests/reliability/scenarios.py and the like) or a test tool, even lazily."""
    import ast

    test_only = {"tests", "pytest", "_pytest", "pytestqt", "pytest_timeout", "hypothesis"}
    offenders = []
    for path in sorted((REPO_ROOT / "desktop_app").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            offenders += [f"{path.relative_to(REPO_ROOT)}: {name}" for name in names
                          if name.split(".")[0] in test_only]
    assert offenders == []


# ------------------------------------------------------------------ installer promises
def test_installs_per_user_without_admin_rights():
    assert re.search(r"^RequestExecutionLevel user$", NSIS_TEXT, flags=re.M)
    assert re.search(r'^InstallDir "\$LOCALAPPDATA\\Programs\\\$\{APP_NAME\}"$', NSIS_TEXT, flags=re.M)
    assert "HKLM" not in NSIS_TEXT


def test_uninstall_entry_is_registered_under_hkcu_with_all_values():
    defines = nsis_defines()
    assert expand(defines["UNINST_KEY"], defines) == (
        r"Software\Microsoft\Windows\CurrentVersion\Uninstall\ml-connector"
    )
    written = set(re.findall(r'WriteReg(?:Str|DWORD) HKCU "\$\{UNINST_KEY\}" "(\w+)"', NSIS_TEXT))
    assert written >= {
        "DisplayName", "DisplayVersion", "Publisher", "DisplayIcon", "UninstallString",
        "QuietUninstallString", "InstallLocation", "EstimatedSize", "NoModify", "NoRepair",
    }
    assert re.search(r'"QuietUninstallString" .*uninstall\.exe" /S', NSIS_TEXT)
    assert 'DeleteRegKey HKCU "${UNINST_KEY}"' in NSIS_TEXT


def test_upgrade_reuses_the_existing_install_dir():
    assert 'InstallDirRegKey HKCU "${UNINST_KEY}" "InstallLocation"' in NSIS_TEXT
    assert re.search(r'ReadRegStr \$PreviousInstall HKCU "\$\{UNINST_KEY\}" "InstallLocation"', NSIS_TEXT)


def test_user_data_is_deleted_only_by_an_unchecked_uninstall_component():
    defines = nsis_defines()
    assert expand(defines["USER_DATA_DIR"], defines) == r"$LOCALAPPDATA\ml-connector"
    touching = [
        (header, body) for header, body in nsis_sections()
        if "${USER_DATA_DIR}" in body or "$LOCALAPPDATA" in body
    ]
    assert len(touching) == 1, "exactly one section may touch the data directory"
    header, body = touching[0]
    assert header.startswith('Section /o "un.Also delete my settings, mappings and sync history"')
    assert 'RMDir /r "${USER_DATA_DIR}"' in body
    outside_sections = re.sub(r"^Section\b.*?^SectionEnd", "", NSIS_TEXT, flags=re.M | re.S)
    assert "USER_DATA_DIR}" not in outside_sections.split("!define USER_DATA_DIR", 1)[1]
    assert "!insertmacro MUI_UNPAGE_COMPONENTS" in NSIS_TEXT  # where the user can tick it


def test_setup_and_uninstaller_refuse_while_the_app_runs():
    defines = nsis_defines()
    assert expand(defines["RUNNING_MUTEX"], defines) == r"Local\ml-connector-running"
    assert 'kernel32::OpenMutexW(i ${SYNCHRONIZE}, i 0, w "${RUNNING_MUTEX}")' in NSIS_TEXT
    assert "is running. Quit it from the tray icon, then run Setup again." in NSIS_TEXT
    assert load_packaging_module("launcher").running_mutex_name() == r"Local\ml-connector-running"
    for function in ("Function .onInit", "Function un.onInit"):
        body = NSIS_TEXT.split(function, 1)[1].split("FunctionEnd", 1)[0]
        assert "!insertmacro REFUSE_IF_APP_RUNNING" in body, function


def test_shortcuts_and_start_with_windows_minimized():
    sections = {header: body for header, body in nsis_sections()}
    assert any("$SMPROGRAMS" in body for header, body in sections.items() if "SectionIn RO" in body)
    desktop = next(body for header, body in sections.items() if "Desktop shortcut" in header)
    assert "CreateShortcut \"$DESKTOP" in desktop
    autostart = next(body for header, body in sections.items() if "Start with Windows" in header)
    assert re.search(r'WriteRegStr HKCU "\$\{RUN_KEY\}" "\$\{APP_NAME\}" .*" gui --minimized\'', autostart)
    assert nsis_defines()["RUN_KEY"] == r"Software\Microsoft\Windows\CurrentVersion\Run"


@pytest.mark.skipif(shutil.which("makensis") is None,
                    reason="makensis not on PATH (apt-get install nsis); CI installs it")
def test_check_installer_compiles_the_script_with_warnings_as_errors():
    result = subprocess.run(
        ["bash", str(PACKAGING / "check_installer.sh")],
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"check_installer: OK, ml-connector-{desktop_app.__version__}-setup.exe" in result.stdout


def test_check_installer_explains_a_missing_makensis(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "dirname").symlink_to(shutil.which("dirname"))
    result = subprocess.run(
        [shutil.which("bash"), str(PACKAGING / "check_installer.sh")],
        env={"PATH": str(bin_dir)}, capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 2
    assert "makensis not found" in result.stderr


# ------------------------------------------------------------------ frozen-app launcher
def test_launcher_gives_a_windowed_exe_somewhere_to_print(monkeypatch):
    launcher = load_packaging_module("launcher")
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setattr(sys, "stderr", None)
    launcher._attach_parent_console()
    try:
        print("--version output must not crash a windowed exe")
        assert sys.stderr is not None
    finally:
        sys.stdout.close()


# ------------------------------------------------------------------ icons and stylesheet
def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_app_icon_png_and_multi_size_ico():
    assert png_size((ICONS / "ml-connector.png").read_bytes()) == (256, 256)
    ico = (ICONS / "ml-connector.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", ico[:6])
    assert (reserved, kind) == (0, 1)
    sizes = set()
    for index in range(count):
        width, height, _, _, planes, bits, length, offset = struct.unpack(
            "<BBBBHHII", ico[6 + 16 * index: 22 + 16 * index])
        image = ico[offset: offset + length]
        assert png_size(image) == (width or 256, height or 256)
        assert (planes, bits) == (1, 32)
        sizes.add(width or 256)
    assert sizes == {16, 32, 48, 256}


def test_tray_icons_exist_at_64px():
    for state in ("ok", "working", "attention"):
        assert png_size((ICONS / f"tray-{state}.png").read_bytes()) == (64, 64)


def test_stylesheet_is_small_and_styles_every_invoice_state(qtbot):
    from PySide6.QtWidgets import QLabel

    qss = (REPO_ROOT / "resources" / "style.qss").read_text(encoding="utf-8")
    assert len(qss.splitlines()) < 150
    for state in INVOICE_STATES:
        assert f'QLabel[state="{state}"]' in qss, state
    # Qt logs a warning (a test failure under qt_log_level_fail) when the sheet does not parse.
    label = QLabel("x")
    qtbot.addWidget(label)
    label.setStyleSheet(qss)
    label.setProperty("state", "FAILED")
    label.ensurePolished()
    assert label.palette().window().color().name() == "#fee2e2"
