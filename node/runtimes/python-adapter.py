"""Orva's Python runtime adapter.

Runs inside the sandbox as
    /usr/bin/python3.11 -S -B -u /orva/python-adapter.py <entrypoint>
and serves one call at a time: invoke frames arrive on fd 3, answers leave on
fd 4, each a 4-byte big-endian length + a msgpack value. What the handler
prints through sys.stdout/sys.stderr during a call is captured into that
call's `logs`; what reaches fd 1/2 itself (child processes, os.write, C
libraries) goes to the node, which adds it to the call in flight.

Start-up cost is the cold start: only os, sys, json, binascii and msgpack are
imported before the ready frame, ctypes right after it; asyncio only for a
coroutine handler, traceback only on the first error.
"""
import os
import sys

# -S left sys.path at the stdlib; the script's dir (/orva) goes, the code comes first.
sys.path[0] = '/code'
# Only msgpack is bound under dist-packages. It comes before the function's own
# dependencies so the adapter always gets the msgpack it was written for.
sys.path.append('/usr/lib/python3/dist-packages')
if os.path.isdir('/code/.deps'):
    import site  # with -S, importing site only defines addsitedir (which reads .pth files)
    site.addsitedir('/code/.deps')

import json
from binascii import a2b_base64

import msgpack

LOG_CAP = 256 * 1024
TRUNCATED = '\n[orva: logs truncated at 256 KiB]\n'
JSON_TYPE = 'application/json'
CO_COROUTINE = 0x80

# Lone surrogates in printed text must not make a frame unencodable.
_pack = msgpack.Packer(unicode_errors='replace').pack
_unpack = msgpack.unpackb


# The node kills a worker whose frame is larger (protocol/frames.ts MAX_FRAME_BYTES).
MAX_FRAME = 16 * 1024 * 1024


def _too_large(frame, size):
    """An answer (or exception, or load error) too large to carry, as an error that fits: the call fails, the worker stays."""
    message = f'the answer is {size} bytes, over the {MAX_FRAME} a call may return'
    small = {'type': 'load-error' if frame['type'] == 'load-error' else 'error', 'name': 'ValueError', 'message': message, 'stack': f'ValueError: {message}\n'}
    if 'id' in frame:
        small.update(id=frame['id'], logs=frame['logs'])
    return small


def send(frame):
    payload = _pack(frame)
    if len(payload) > MAX_FRAME:
        payload = _pack(_too_large(frame, len(payload)))
    data = memoryview(len(payload).to_bytes(4, 'big') + payload)
    while data:
        data = data[os.write(4, data):]


# ---- output capture: during a call, sys.stdout/sys.stderr writes become its logs

_logs = None  # the call's list of printed strings, or None between calls
_log_bytes = 0


def _append_log(s):
    global _log_bytes
    if _log_bytes > LOG_CAP:  # already truncated
        return
    n = len(s) if s.isascii() else len(s.encode('utf-8', 'replace'))
    if _log_bytes + n > LOG_CAP:
        s = s.encode('utf-8', 'replace')[:LOG_CAP - _log_bytes].decode('utf-8', 'ignore') + TRUNCATED
        n = LOG_CAP + 1 - _log_bytes  # past the cap: marks it truncated
    _logs.append(s)
    _log_bytes += n


class _Capture:
    """Stands in for sys.stdout / sys.stderr; anything else goes to the real stream."""

    def __init__(self, real):
        self._real = real

    def write(self, s):
        if _logs is None:
            return self._real.write(s)
        if not isinstance(s, str):
            raise TypeError(f'write() argument must be str, not {type(s).__name__}')
        _append_log(s)
        return len(s)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        if _logs is None:
            self._real.flush()

    def isatty(self):
        return False

    def __getattr__(self, name):
        return getattr(self._real, name)


def _begin_call():
    global _logs, _log_bytes
    _logs = []
    _log_bytes = 0


def _end_call():
    global _logs
    logs = ''.join(_logs)
    _logs = None
    return logs


# ---- results

def _failure(e):
    import traceback
    try:
        return {'name': type(e).__name__, 'message': str(e), 'stack': ''.join(traceback.format_exception(e))}
    except Exception:
        return {'name': type(e).__name__, 'message': '[unprintable error]', 'stack': ''}


def _json(v):
    # NaN and Infinity would come out as bare NaN/Infinity: not JSON, so the call fails instead.
    return json.dumps(v, separators=(',', ':'), ensure_ascii=False, allow_nan=False).encode()


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _response(v):
    """The handler's return value as (status, headers, body): a dict with a
    numeric statusCode is the AWS proxy shape; anything else is the JSON body
    of a 200, except bytes, which are sent as they are."""
    if isinstance(v, dict) and _is_number(v.get('statusCode')):
        status = v['statusCode']
        if status != int(status) or not 100 <= status <= 599:
            raise ValueError(f'statusCode must be an integer from 100 to 599, got {status!r}')
        headers = {str(k): str(h) for k, h in (v.get('headers') or {}).items()}
        body = v.get('body')
        if body is None:
            body = b''
        elif isinstance(body, str):
            body = a2b_base64(body) if v.get('isBase64Encoded') is True else body.encode()
        elif isinstance(body, (bytes, bytearray, memoryview)):
            body = bytes(body)
        else:
            body = _json(body)
            if not any(k.lower() == 'content-type' for k in headers):
                headers['content-type'] = JSON_TYPE
        return int(status), headers, body
    if isinstance(v, (bytes, bytearray, memoryview)):
        return 200, {'content-type': 'application/octet-stream'}, bytes(v)
    return 200, {'content-type': JSON_TYPE}, _json(v)


# ---- coroutines: one event loop for the worker's life, created on first need

_loop = None


def _run(awaitable):
    global _loop
    if _loop is None:
        import asyncio
        _loop = asyncio.new_event_loop()
        asyncio.set_event_loop(_loop)
    return _loop.run_until_complete(awaitable)


# ---- start

def _load(entrypoint):
    if not entrypoint.endswith('.py'):
        raise ImportError(f'{entrypoint} is not a .py file')
    name = entrypoint[:-3].replace('/', '.')
    __import__(name)
    handler = getattr(sys.modules[name], 'handler', None)
    if not callable(handler):
        raise TypeError(f"{entrypoint} defines no callable 'handler'")
    if getattr(getattr(handler, '__code__', None), 'co_flags', 0) & CO_COROUTINE:
        _run(_noop())  # create the loop now, not on the first call
    return handler


async def _noop():
    pass


def _execution_id_setter():
    """A function that sets ORVA_EXECUTION_ID for the call about to run.

    os.environ[...] = … would call setenv(3), and glibc keeps every value it
    was ever given (about 90 bytes a call, never freed): a worker serving
    millions of calls would grow until its memory limit killed it. So the id
    goes into os.environ's mapping directly (os.environ, os.getenv), and into
    the C environment (what a subprocess inherits) by overwriting the value in
    place: every id has the same length, so setenv runs for the first call
    only, and again only after the handler changed or removed the variable.
    """
    import ctypes
    libc = ctypes.CDLL(None)
    libc.getenv.restype = ctypes.c_void_p
    libc.getenv.argtypes = [ctypes.c_char_p]
    libc.setenv.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
    name = b'ORVA_EXECUTION_ID'
    data = os.environ._data
    key = os.environ.encodekey('ORVA_EXECUTION_ID')
    encode = os.environ.encodevalue
    # The value last set and where the C environment holds it.
    last = None
    at = None

    def set_execution_id(value):
        nonlocal last, at
        b = encode(value)
        if at is not None and data.get(key) is last and len(b) == len(last):
            ctypes.memmove(at, b, len(b))
        else:
            libc.setenv(name, b, 1)
            at = libc.getenv(name)
        data[key] = last = b

    return set_execution_id


def main():
    sys.stdout = _Capture(sys.stdout)
    sys.stderr = _Capture(sys.stderr)
    try:
        handler = _load(sys.argv[1])
    except BaseException as e:  # SyntaxError, ImportError, even SystemExit at import
        send({'type': 'load-error', **_failure(e)})
        os._exit(1)
    send({'type': 'ready'})

    read = os.fdopen(3, 'rb').read
    set_execution_id = _execution_id_setter()
    while True:
        head = read(4)
        if len(head) < 4:
            return  # the node closed our input
        frame = _unpack(read(int.from_bytes(head, 'big')))
        if frame['type'] != 'invoke':
            raise ValueError(f"unexpected frame type {frame['type']!r}")
        set_execution_id(frame['executionId'])
        _begin_call()
        # Exception, not BaseException: sys.exit() in a handler ends the worker, as it says.
        try:
            result = handler(frame['event'])
            if hasattr(result, '__await__'):
                result = _run(result)
            status, headers, body = _response(result)
            out = {'type': 'ok', 'id': frame['id'], 'status': status, 'headers': headers, 'body': body, 'logs': _end_call()}
        except Exception as e:
            out = {'type': 'error', 'id': frame['id'], **_failure(e), 'logs': _end_call()}
        send(out)


main()
