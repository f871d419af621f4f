"""Errors that a user can act on. Tools print them as one line (no traceback unless
``--debug``)."""
import re


class UserError(RuntimeError):
    """Something in the user's input is wrong; the message says what and what to do."""


class DatasetNotFoundError(UserError, FileNotFoundError):
    """A dataset folder or annotation file is missing."""


class DataError(UserError, ValueError):
    """A dataset exists but one of its files cannot be used (malformed, unreadable)."""


# Exceptions from building a config that are almost always about the user's input; MMEngine
# re-raises them with "class `X` in scope/registry: " prefixes, which we strip.
USER_FACING = (UserError, FileNotFoundError, ValueError, KeyError, TypeError)
_BUILD_PREFIX = re.compile(r'class `\w+` in [\w.]+/[\w ]+: ')
# torch re-raises an exception from a DataLoader worker with the worker's traceback in the
# message; its last line is "module.ExceptionType: the original message"
_WORKER_WRAPPED = re.compile(r'^Caught \w+ in DataLoader worker process \d+')


def one_line(exc: BaseException) -> str:
    """The innermost, user-meaningful message of ``exc`` on one line."""
    msg = str(exc)
    if _WORKER_WRAPPED.match(msg):
        msg = msg.strip().splitlines()[-1].split(': ', 1)[-1]
    msg = _BUILD_PREFIX.sub('', msg).strip()
    if len(msg) > 1 and msg[0] == msg[-1] and msg[0] in '"\'':  # a KeyError's repr
        msg = msg[1:-1]
    return ' '.join(msg.split()) or type(exc).__name__
