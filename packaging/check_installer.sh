#!/usr/bin/env bash
# CI check for installer.nsi on Linux: compile it with makensis -WX (warnings are errors) against
# a stub bundle with the real file layout, using the version and names from desktop_app/__init__.py
# exactly as packaging/build.py passes them. Fails if makensis fails or Setup is not written.
#   packaging/check_installer.sh          (PYTHON=... to choose the interpreter; stdlib only)
#   packaging/check_installer.sh --wine   then also install, upgrade and uninstall Setup silently
#                                         under wine (64-bit; Debian: apt-get install wine64) in a
#                                         fresh prefix and check where the files and keys land
set -euo pipefail
with_wine=""
[[ "${1:-}" == "--wine" ]] && with_wine=1

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
PYTHON=${PYTHON:-python3}

if ! command -v makensis >/dev/null 2>&1; then
  echo "check_installer: makensis not found. Install NSIS 3 (Debian/Ubuntu: apt-get install nsis)." >&2
  exit 2
fi

work=$(mktemp -d)
cleanup() {
  # a wineserver left running would keep the prefix busy
  if [[ -n "${WINEPREFIX:-}" ]]; then "${wineserver:-wineserver}" -k >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
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
[[ -n "$with_wine" ]] || exit 0

# --- silent install / upgrade / uninstall under wine ---------------------------------------
wine=$(command -v wine64 || true)
[[ -z "$wine" && -x /usr/lib/wine/wine64 ]] && wine=/usr/lib/wine/wine64
if [[ -z "$wine" ]]; then
  echo "check_installer: wine64 not found. Install it (Debian: apt-get install wine64) or drop --wine." >&2
  exit 2
fi
wineserver=$(dirname "$wine")/wineserver
command -v wineserver >/dev/null 2>&1 && wineserver=$(command -v wineserver)
export WINEPREFIX="$work/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
fail() { echo "check_installer (wine): $*" >&2; exit 1; }
timeout 300 "$wine" wineboot -i >/dev/null 2>&1 || fail "wineboot could not create a prefix"
users=("$WINEPREFIX"/drive_c/users/*)
home=""
for candidate in "${users[@]}"; do [[ -d "$candidate/AppData/Local" ]] && home=$candidate; done
[[ -n "$home" ]] || fail "no user profile in the new prefix"
programs="$home/AppData/Local/Programs/$app_name"
data="$home/AppData/Local/$app_name"
registry() { timeout 60 "$wineserver" -w; cat "$WINEPREFIX/user.reg"; }
uninstall_key="Software\\\\Microsoft\\\\Windows\\\\CurrentVersion\\\\Uninstall\\\\$app_name]"

timeout 300 "$wine" "$setup" /S || fail "Setup /S exited with $?"
for expected in "$app_name.exe" "uninstall.exe" "_internal/resources/style.qss"; do
  [[ -f "$programs/$expected" ]] || fail "$expected is not in $programs after a silent install"
done
ls "$home"/AppData/Roaming/Microsoft/Windows/Start\ Menu/Programs/*.lnk >/dev/null 2>&1 \
  || fail "no Start-menu shortcut"
registry | grep -A12 -F "$uninstall_key" | grep -q -F "\"DisplayVersion\"=\"$app_version\"" \
  || fail "no HKCU uninstall entry with DisplayVersion $app_version"

mkdir -p "$data" && echo "the user's ledger" >"$data/ml-connector.sqlite3"
timeout 300 "$wine" "$setup" /S || fail "upgrade in place: Setup /S exited with $?"
[[ -f "$programs/$app_name.exe" && -f "$data/ml-connector.sqlite3" ]] || fail "upgrade in place lost files"

timeout 300 "$wine" "$programs/uninstall.exe" /S || fail "uninstall /S exited with $?"
for _ in $(seq 60); do [[ -e "$programs/$app_name.exe" ]] || break; sleep 1; done
[[ ! -e "$programs/$app_name.exe" ]] || fail "the uninstaller left $programs/$app_name.exe"
[[ -f "$data/ml-connector.sqlite3" ]] || fail "the uninstaller deleted the user's data directory"
! registry | grep -q -F "$uninstall_key" || fail "the uninstall entry is still registered"
echo "check_installer (wine): OK, silent install into $(basename "$(dirname "$programs")")/$app_name, upgrade in place, uninstall kept the data"
