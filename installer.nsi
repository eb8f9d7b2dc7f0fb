; ml-connector per-user installer (NSIS 3, Modern UI 2).
;
; Build it with `python packaging/build.py --installer`, which passes the version and names from
; desktop_app/__init__.py. By hand:  makensis -WX -V2 -DVERSION=0.1.0 installer.nsi
; Defines:
;   VERSION       required, e.g. 0.1.0 (no default: the package is the one source of the version)
;   VERSION_QUAD  numeric a.b.c.d for the version resource; derived from VERSION when absent
;   APP_NAME, DISPLAY_NAME, PUBLISHER  defaults below must equal desktop_app/__init__.py (tested)
;   BUNDLE_DIR    the PyInstaller onedir bundle to pack (default packaging\dist\ml-connector)
;   OUT_DIR       where Setup is written (default packaging\dist)
;   SIGN_COMMAND  optional signing command; "%1" is the file to sign
;
; Installs without admin rights into %LOCALAPPDATA%\Programs\ml-connector and registers under
; HKCU. The user's data directory (%LOCALAPPDATA%\ml-connector) is never touched unless the user
; ticks the unchecked-by-default "Also delete my settings..." component when uninstalling.

Target amd64-unicode  ; the bundle is 64-bit Python, so Setup is a 64-bit program too
ManifestDPIAware true
RequestExecutionLevel user
SetCompressor /SOLID lzma

!ifndef VERSION
  !error "Pass the version: makensis -DVERSION=x.y.z installer.nsi (packaging/build.py does this)"
!endif
!ifndef APP_NAME
  !define APP_NAME "ml-connector"
!endif
!ifndef DISPLAY_NAME
  !define DISPLAY_NAME "ml-connector"
!endif
!ifndef PUBLISHER
  !define PUBLISHER "ml-connector"
!endif
!ifndef BUNDLE_DIR
  !define BUNDLE_DIR "packaging\dist\${APP_NAME}"
!endif
!ifndef OUT_DIR
  !define OUT_DIR "packaging\dist"
!endif
!ifndef VERSION_QUAD
  !searchparse /noerrors "${VERSION}" "" V_MAJOR "." V_MINOR "." V_PATCH
  !define VERSION_QUAD "${V_MAJOR}.${V_MINOR}.${V_PATCH}.0"
!endif

!define EXE_NAME "${APP_NAME}.exe"
!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${APP_NAME}"
!define RUN_KEY "Software\Microsoft\Windows\CurrentVersion\Run"
; The app holds this mutex while it runs (created with CreateMutexW at start-up on Windows).
!define RUNNING_MUTEX "Local\${APP_NAME}-running"
!define SETUP_MUTEX "Local\${APP_NAME}-setup"
!define SYNCHRONIZE 0x00100000
!define ERROR_ALREADY_EXISTS 183
!define USER_DATA_DIR "$LOCALAPPDATA\${APP_NAME}"

!if /FileExists "${BUNDLE_DIR}\${EXE_NAME}"
!else
  !error "No bundle at ${BUNDLE_DIR}\${EXE_NAME}. Run python packaging/build.py first, or pass -DBUNDLE_DIR=..."
!endif

!ifdef SIGN_COMMAND
  !finalize '${SIGN_COMMAND} "%1"'
  !uninstfinalize '${SIGN_COMMAND} "%1"'
!endif

!include "MUI2.nsh"
!include "LogicLib.nsh"
!include "FileFunc.nsh"
!include "Sections.nsh"

Name "${DISPLAY_NAME}"
OutFile "${OUT_DIR}\${APP_NAME}-${VERSION}-setup.exe"
InstallDir "$LOCALAPPDATA\Programs\${APP_NAME}"
InstallDirRegKey HKCU "${UNINST_KEY}" "InstallLocation"
ShowInstDetails hide
ShowUninstDetails hide
BrandingText "${DISPLAY_NAME} ${VERSION}"

VIProductVersion "${VERSION_QUAD}"
VIFileVersion "${VERSION_QUAD}"
VIAddVersionKey /LANG=1033 "ProductName" "${DISPLAY_NAME}"
VIAddVersionKey /LANG=1033 "ProductVersion" "${VERSION}"
VIAddVersionKey /LANG=1033 "CompanyName" "${PUBLISHER}"
VIAddVersionKey /LANG=1033 "FileDescription" "${DISPLAY_NAME} Setup"
VIAddVersionKey /LANG=1033 "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=1033 "LegalCopyright" "${PUBLISHER}"

!define MUI_ICON "resources\icons\ml-connector.ico"
!define MUI_UNICON "resources\icons\ml-connector.ico"
!define MUI_ABORTWARNING
!define MUI_COMPONENTSPAGE_NODESC

Var PreviousInstall  ; install dir of an existing installation, empty on a first install

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_COMPONENTS
!define MUI_PAGE_CUSTOMFUNCTION_PRE SkipDirectoryOnUpgrade
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!define MUI_FINISHPAGE_RUN "$INSTDIR\${EXE_NAME}"
!define MUI_FINISHPAGE_RUN_PARAMETERS "gui"
!define MUI_FINISHPAGE_RUN_TEXT "Start ${DISPLAY_NAME} now"
!insertmacro MUI_PAGE_FINISH

!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_COMPONENTS
!insertmacro MUI_UNPAGE_INSTFILES

!insertmacro MUI_LANGUAGE "English"

!macro REFUSE_IF_APP_RUNNING
  System::Call 'kernel32::OpenMutexW(i ${SYNCHRONIZE}, i 0, w "${RUNNING_MUTEX}") p .r0'
  ${If} $0 P<> 0
    System::Call 'kernel32::CloseHandle(p r0)'
    MessageBox MB_OK|MB_ICONEXCLAMATION "${DISPLAY_NAME} is running. Quit it from the tray icon, then run Setup again." /SD IDOK
    SetErrorLevel 2
    Abort
  ${EndIf}
!macroend

Section "!${DISPLAY_NAME} (required)" SEC_APP
  SectionIn RO
  SetOutPath "$INSTDIR"
  ; Upgrade in place: drop the old program files first so no library of the previous version
  ; lingers next to the new ones (Qt would load stale plugins). User data lives elsewhere.
  ${If} ${FileExists} "$INSTDIR\${EXE_NAME}"
    Delete "$INSTDIR\${EXE_NAME}"
    RMDir /r "$INSTDIR\_internal"
  ${EndIf}
  File /r "${BUNDLE_DIR}\*"
  WriteUninstaller "$INSTDIR\uninstall.exe"
  CreateShortcut "$SMPROGRAMS\${DISPLAY_NAME}.lnk" "$INSTDIR\${EXE_NAME}" "gui" "$INSTDIR\${EXE_NAME}" 0

  ; The optional sections below re-create these when ticked; an upgrade may have unticked them.
  Delete "$DESKTOP\${DISPLAY_NAME}.lnk"
  DeleteRegValue HKCU "${RUN_KEY}" "${APP_NAME}"

  WriteRegStr HKCU "${UNINST_KEY}" "DisplayName" "${DISPLAY_NAME}"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINST_KEY}" "Publisher" "${PUBLISHER}"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayIcon" '"$INSTDIR\${EXE_NAME}",0'
  WriteRegStr HKCU "${UNINST_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINST_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegStr HKCU "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegDWORD HKCU "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINST_KEY}" "NoRepair" 1
SectionEnd

Section "Desktop shortcut" SEC_DESKTOP
  CreateShortcut "$DESKTOP\${DISPLAY_NAME}.lnk" "$INSTDIR\${EXE_NAME}" "gui" "$INSTDIR\${EXE_NAME}" 0
SectionEnd

Section "Start with Windows (in the tray)" SEC_AUTOSTART
  WriteRegStr HKCU "${RUN_KEY}" "${APP_NAME}" '"$INSTDIR\${EXE_NAME}" gui --minimized'
SectionEnd

Section "-Record installed size"
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  IntFmt $0 "0x%08X" $0
  WriteRegDWORD HKCU "${UNINST_KEY}" "EstimatedSize" "$0"
SectionEnd

Function .onInit
  System::Call 'kernel32::CreateMutexW(p 0, i 0, w "${SETUP_MUTEX}") p .r1 ?e'
  Pop $2
  ${If} $2 = ${ERROR_ALREADY_EXISTS}
    MessageBox MB_OK|MB_ICONEXCLAMATION "${DISPLAY_NAME} Setup is already running." /SD IDOK
    Abort
  ${EndIf}
  !insertmacro REFUSE_IF_APP_RUNNING

  ; An existing installation: reuse its directory and keep the user's earlier choices.
  ReadRegStr $PreviousInstall HKCU "${UNINST_KEY}" "InstallLocation"
  ${If} $PreviousInstall != ""
  ${AndIf} ${FileExists} "$PreviousInstall\${EXE_NAME}"
    StrCpy $INSTDIR $PreviousInstall
    ${IfNot} ${FileExists} "$DESKTOP\${DISPLAY_NAME}.lnk"
      !insertmacro UnselectSection ${SEC_DESKTOP}
    ${EndIf}
    ReadRegStr $0 HKCU "${RUN_KEY}" "${APP_NAME}"
    ${If} $0 == ""
      !insertmacro UnselectSection ${SEC_AUTOSTART}
    ${EndIf}
  ${Else}
    StrCpy $PreviousInstall ""
  ${EndIf}
FunctionEnd

Function SkipDirectoryOnUpgrade
  ${If} $PreviousInstall != ""
    Abort
  ${EndIf}
FunctionEnd

Section "un.${DISPLAY_NAME}" UNSEC_APP
  SectionIn RO
  Delete "$SMPROGRAMS\${DISPLAY_NAME}.lnk"
  Delete "$DESKTOP\${DISPLAY_NAME}.lnk"
  DeleteRegValue HKCU "${RUN_KEY}" "${APP_NAME}"
  Delete "$INSTDIR\${EXE_NAME}"
  RMDir /r "$INSTDIR\_internal"
  Delete "$INSTDIR\uninstall.exe"
  ; Not /r: the folder is removed only when nothing but our files was in it.
  RMDir "$INSTDIR"
  DeleteRegKey HKCU "${UNINST_KEY}"
SectionEnd

; Unchecked by default (/o), so a silent or hurried uninstall always keeps the user's data.
Section /o "un.Also delete my settings, mappings and sync history" UNSEC_DATA
  RMDir /r "${USER_DATA_DIR}"
SectionEnd

Function un.onInit
  !insertmacro REFUSE_IF_APP_RUNNING
FunctionEnd
