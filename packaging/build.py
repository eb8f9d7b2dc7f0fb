"""Build the PyInstaller bundle and, on Windows (or with --installer), the NSIS installer.

    python packaging/build.py                 bundle -> packaging/dist/ml-connector/ (+ Setup on Windows)
    python packaging/build.py --installer     also build Setup where makensis is on PATH (Linux CI)
    python packaging/build.py --skip-bundle --installer --bundle-dir DIR
                                              only Setup, packing an existing (or stub) bundle

Version and names come from desktop_app/__init__.py (see appinfo.py) and reach makensis as
-D defines, so installer.nsi never carries its own copy. Standard library only; the bundle step
runs PyInstaller from the interpreter running this script.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from appinfo import REPO_ROOT, AppInfo, read_app_info  # noqa: E402

PACKAGING_DIR = REPO_ROOT / "packaging"
SPEC_FILE = PACKAGING_DIR / "ml-connector.spec"
NSIS_SCRIPT = REPO_ROOT / "installer.nsi"
DEFAULT_DIST = PACKAGING_DIR / "dist"
DEFAULT_WORK = PACKAGING_DIR / "build"
WINDOWS_MAKENSIS = Path(r"C:\Program Files (x86)\NSIS\makensis.exe")


def pyinstaller_command(dist_dir: Path, work_dir: Path) -> list[str]:
    return [
        sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean",
        "--distpath", str(dist_dir), "--workpath", str(work_dir), str(SPEC_FILE),
    ]


def makensis_defines(
    info: AppInfo, bundle_dir: Path, out_dir: Path, sign_command: str | None = None
) -> dict[str, str]:
    defines = {
        "VERSION": info.version,
        "VERSION_QUAD": info.version_quad,
        "APP_NAME": info.name,
        "DISPLAY_NAME": info.display_name,
        "PUBLISHER": info.publisher,
        "BUNDLE_DIR": str(bundle_dir),
        "OUT_DIR": str(out_dir),
    }
    if sign_command:
        defines["SIGN_COMMAND"] = sign_command  # installer.nsi signs Setup and the uninstaller
    return defines


def makensis_command(
    makensis: str, info: AppInfo, bundle_dir: Path, out_dir: Path, sign_command: str | None = None
) -> list[str]:
    defines = makensis_defines(info, bundle_dir, out_dir, sign_command)
    # -WX: a warning is an error, so a sloppy script never ships.
    return [makensis, "-WX", "-V2", *(f"-D{key}={value}" for key, value in defines.items()), str(NSIS_SCRIPT)]


def setup_exe_path(info: AppInfo, out_dir: Path) -> Path:
    """Must match OutFile in installer.nsi."""
    return out_dir / f"{info.name}-{info.version}-setup.exe"


def find_makensis() -> str | None:
    found = shutil.which("makensis")
    if found:
        return found
    if sys.platform == "win32" and WINDOWS_MAKENSIS.exists():
        return str(WINDOWS_MAKENSIS)
    return None


def build_bundle(dist_dir: Path, work_dir: Path) -> Path:
    started = time.monotonic()
    subprocess.run(pyinstaller_command(dist_dir, work_dir), check=True, cwd=REPO_ROOT)
    bundle = dist_dir / read_app_info().name
    print(f"bundle: {bundle} ({time.monotonic() - started:.0f} s)")
    return bundle


def build_installer(
    makensis: str, info: AppInfo, bundle_dir: Path, out_dir: Path, sign_command: str | None = None
) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    command = makensis_command(makensis, info, bundle_dir, out_dir, sign_command)
    subprocess.run(command, check=True, cwd=REPO_ROOT)
    setup = setup_exe_path(info, out_dir)
    if not setup.is_file():
        raise SystemExit(f"makensis succeeded but {setup} was not written")
    print(f"installer: {setup} ({setup.stat().st_size / 1e6:.1f} MB)")
    return setup


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--installer", action="store_true", help="build Setup even when not on Windows")
    parser.add_argument("--no-installer", action="store_true", help="bundle only, even on Windows")
    parser.add_argument("--skip-bundle", action="store_true", help="do not run PyInstaller")
    parser.add_argument("--bundle-dir", type=Path, help="bundle to pack (default: <dist>/ml-connector)")
    parser.add_argument("--dist", type=Path, default=DEFAULT_DIST, help="PyInstaller dist dir and Setup output dir")
    parser.add_argument("--sign-command", help='e.g. "signtool sign /fd sha256 /a"; %%1 is appended as the file')
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="PyInstaller work dir")
    args = parser.parse_args(argv)

    info = read_app_info()
    dist_dir = args.dist.resolve()
    bundle_dir = (args.bundle_dir or dist_dir / info.name).resolve()
    if not args.skip_bundle:
        bundle_dir = build_bundle(dist_dir, args.work.resolve())

    want_installer = (sys.platform == "win32" or args.installer) and not args.no_installer
    if not want_installer:
        return 0
    makensis = find_makensis()
    if makensis is None:
        print("makensis not found: install NSIS 3 (https://nsis.sourceforge.io, or apt-get install nsis)",
              file=sys.stderr)
        return 2
    if not (bundle_dir / info.exe_name).is_file():
        print(f"no bundle at {bundle_dir}: build it first (omit --skip-bundle)", file=sys.stderr)
        return 2
    build_installer(makensis, info, bundle_dir, dist_dir, args.sign_command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
