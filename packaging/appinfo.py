"""Name, publisher and version of the app, read from desktop_app/__init__.py for the build tools.

The package is the one place these live: the PyInstaller spec, build.py (makensis -D defines),
check_installer.sh and the Windows version resource all read them from here. Parsed with `ast`,
not imported, so the build tools need neither the app's dependencies nor a configured venv.
Standard library only.

    python packaging/appinfo.py      prints "<name> <version>"
"""
from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE_INIT = REPO_ROOT / "desktop_app" / "__init__.py"


@dataclass(frozen=True)
class AppInfo:
    name: str  # APP_NAME: file names, registry keys, mutex and data-dir names
    display_name: str
    publisher: str
    version: str

    @property
    def version_tuple(self) -> tuple[int, int, int, int]:
        """Numeric a.b.c.d for Windows version resources; "1.2.0rc1" gives (1, 2, 0, 0)."""
        release = re.match(r"\d+(?:\.\d+)*", self.version)
        if release is None:
            raise ValueError(f"version {self.version!r} does not start with a number")
        numbers = [int(part) for part in release.group(0).split(".")][:4]
        return tuple(numbers + [0] * (4 - len(numbers)))  # type: ignore[return-value]

    @property
    def version_quad(self) -> str:
        return ".".join(str(part) for part in self.version_tuple)

    @property
    def exe_name(self) -> str:
        return self.name + ".exe"


def read_app_info(init_file: Path = PACKAGE_INIT) -> AppInfo:
    tree = ast.parse(init_file.read_text(encoding="utf-8"), filename=str(init_file))
    values: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    values[target.id] = node.value.value
    missing = {"__version__", "APP_NAME"} - values.keys()
    if missing:
        raise ValueError(f"{init_file} does not define {', '.join(sorted(missing))}")
    name = values["APP_NAME"]
    return AppInfo(
        name=name,
        display_name=values.get("APP_DISPLAY_NAME", name),
        publisher=values.get("PUBLISHER", name),
        version=values["__version__"],
    )


def windows_version_info_text(info: AppInfo) -> str:
    """A PyInstaller version-resource file (the format grab_version writes) for the app's exe."""
    quad = info.version_tuple
    strings = {
        "CompanyName": info.publisher,
        "FileDescription": info.display_name,
        "FileVersion": info.version,
        "InternalName": info.name,
        "LegalCopyright": info.publisher,
        "OriginalFilename": info.exe_name,
        "ProductName": info.display_name,
        "ProductVersion": info.version,
    }
    struct_lines = ",\n".join(f"          StringStruct({key!r}, {value!r})" for key, value in strings.items())
    return f"""VSVersionInfo(
  ffi=FixedFileInfo(
    filevers={quad},
    prodvers={quad},
    mask=0x3f,
    flags=0x0,
    OS=0x40004,
    fileType=0x1,
    subtype=0x0,
    date=(0, 0)
  ),
  kids=[
    StringFileInfo([
      StringTable(
        '040904B0',
        [
{struct_lines}
        ])
    ]),
    VarFileInfo([VarStruct('Translation', [1033, 1200])])
  ]
)
"""


if __name__ == "__main__":
    current = read_app_info()
    print(current.name, current.version)
    sys.exit(0)
