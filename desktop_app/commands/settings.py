"""`config set|show` and `secrets set|status`: the settings and the keyring, no engine needed."""
from __future__ import annotations

import sys

from desktop_app.commands.output import open_engine_db, print_json
from desktop_app.core import config, errors, secrets
from desktop_app.core.errors import EXIT_OK


def cmd_config_set(args) -> int:
    open_engine_db()
    value = config.save_setting(args.key, args.value, actor="cli")
    print(f"{args.key} = {config.to_text(args.key, value)}")
    return EXIT_OK


def cmd_config_show(args) -> int:
    open_engine_db()
    settings = config.load_settings()
    if args.json:
        print_json(settings.as_json())
    else:
        width = max(len(key) for key in settings)
        for key in sorted(settings):
            marker = "" if settings.is_set(key) else "  (default)"
            print(f"{key:<{width}}  {config.to_text(key, settings[key])}{marker}")
    return EXIT_OK


def cmd_secrets_set(args) -> int:
    if args.name not in secrets.SECRET_NAMES:
        raise errors.ConfigError(f"Unknown secret {args.name!r}. Valid names: {', '.join(secrets.SECRET_NAMES)}")
    if sys.stdin is None or sys.stdin.isatty():
        import getpass

        value = getpass.getpass(f"{args.name}: ")
    else:
        value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise errors.ConfigError(f"No value given for {args.name} on standard input; nothing was stored.")
    secrets.set_secret(args.name, value)
    print(f"{args.name} stored in the keyring ({secrets.backend_name()}).")
    return EXIT_OK


def cmd_secrets_status(args) -> int:
    status = secrets.secrets_status()
    if args.json:
        print_json(status)
    else:
        for name, present in status.items():
            print(f"{name:<28} {'set' if present else 'missing'}")
    return EXIT_OK
