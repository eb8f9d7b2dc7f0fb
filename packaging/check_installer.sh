#!/usr/bin/env bash
# CI check for installer.nsi on Linux: compile it with makensis -WX (warnings are errors) against
# a stub bundle with the real file layout, using the version and names from desktop_app/__init__.py
# exactly as packaging/build.py passes them. Fails if makensis fails or Setup is not written.
#   packaging/check_installer.sh          (PYTHON=... to choose the interpreter; stdlib only)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
PYTHON=${PYTHON:-python3}

if ! command -v makensis >/dev/null 2>&1; then
  echo "check_installer: makensis not found. Install NSIS 3 (Debian/Ubuntu: apt-get install nsis)." >&2
  exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
read -r app_name app_version < <("$PYTHON" "$here/appinfo.py")

# The layout of a PyInstaller 6 onedir bundle: the exe next to _internal/ with our resources.
stub="$work/bundle/$app_name"
mkdir -p "$stub/_internal"
printf 'MZ stub\n' >"$stub/$app_name.exe"
printf 'stub\n' >"$stub/_internal/base_library.zip"
printf 'stub\n' >"$stub/_internal/python311.dll"
cp -R "$root/resources" "$stub/_internal/resources"

"$PYTHON" "$here/build.py" --skip-bundle --installer --bundle-dir "$stub" --dist "$work/out"

setup="$work/out/$app_name-$app_version-setup.exe"
if [[ ! -s "$setup" ]]; then
  echo "check_installer: makensis did not write $setup" >&2
  exit 1
fi
# When 7-Zip is around, also check that Setup carries the bundle and an uninstaller.
if command -v 7z >/dev/null 2>&1; then
  listing=$(7z l "$setup")
  for expected in "$app_name.exe" "_internal/resources/style.qss" "uninstall.exe"; do
    grep -q -F "$expected" <<<"$listing" || { echo "check_installer: $expected missing from $setup" >&2; exit 1; }
  done
fi
echo "check_installer: OK, $(basename "$setup") ($(stat -c %s "$setup") bytes) for $app_name $app_version"
