"""Errors that a user can act on; tools print them as one line (a traceback with ``--debug``)."""
import re


class UserError(RuntimeError):
    """Something in the user's input is wrong; the message says what and what to do."""


class DatasetNotFoundError(UserError, FileNotFoundError):
    """A dataset folder or annotation file is missing."""


class DataError(UserError, ValueError):
    """A dataset exists but one of its files cannot be used (malformed, unreadable)."""


class ConfigError(UserError, ValueError):
    """A config sets a value that cannot work (an unknown arch, an out-of-range index)."""


# What MMEngine's builders raise for a config's mistakes: a type missing from a registry, or
# arguments the class does not take
_BUILD_ERROR = re.compile(r'is not in the [\w.:]+ registry|__init__\(\) (got an unexpected '
                          r'keyword argument|missing \d+ required)')
# torch re-raises an exception from a DataLoader worker with the worker's traceback in the
# message; its last line is "module.ExceptionType: the original message"
_WORKER_WRAPPED = re.compile(r'^Caught \w+ in DataLoader worker process \d+')


def is_user_error(exc: BaseException) -> bool:
    """A mistake in the user's input: a UserError, a missing file, or a config MMEngine cannot
    build (an unknown type, arguments the class does not take); any other error is a bug."""
    if isinstance(exc, (UserError, FileNotFoundError)):
        return True
    return isinstance(exc, (KeyError, TypeError)) and bool(_BUILD_ERROR.search(str(exc)))


def one_line(exc: BaseException) -> str:
    """The innermost, user-meaningful message of ``exc`` on one line."""
    msg = str(exc)
    if _WORKER_WRAPPED.match(msg):
        msg = msg.strip().splitlines()[-1].split(': ', 1)[-1]
    msg = msg.strip()
    if len(msg) > 1 and msg[0] == msg[-1] and msg[0] in '"\'':  # a KeyError's repr
        msg = msg[1:-1]
    return ' '.join(msg.split()) or type(exc).__name__
