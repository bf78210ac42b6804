# The code context driver for Python: it keeps one namespace alive and runs
# the code it is sent in it, one execution at a time.
#
# Protocol, one JSON object per line on the socket that is the driver's
# standard input: the provider sends {"code": "..."}; the driver answers
# {"type": "display", "data": {mime: text}, "main": bool} for each rich
# result, {"type": "error", "name", "value", "traceback"} when the code
# raised, then {"type": "done"}. Before done it writes the marker (its
# first argument) to standard output and standard error, so that the
# provider knows it has read everything the code printed. It says
# {"type": "ready"} once it listens. SIGINT interrupts the running code
# (KeyboardInterrupt) and is ignored between executions.
import ast
import base64
import builtins
import io
import json
import linecache
import os
import signal
import socket
import sys
import traceback

MARKER = sys.argv[1].encode()
sys.argv = [""]
CTL = socket.socket(fileno=os.dup(0))
_null = os.open(os.devnull, os.O_RDONLY)
os.dup2(_null, 0)
os.close(_null)
os.environ.setdefault("MPLBACKEND", "Agg")

_running = False


def _on_sigint(signum, frame):
    if _running:
        raise KeyboardInterrupt


signal.signal(signal.SIGINT, _on_sigint)


def send(obj):
    CTL.sendall((json.dumps(obj) + "\n").encode())


_REPRS = (
    ("text/html", "_repr_html_"),
    ("text/markdown", "_repr_markdown_"),
    ("image/svg+xml", "_repr_svg_"),
    ("image/png", "_repr_png_"),
    ("image/jpeg", "_repr_jpeg_"),
    ("application/json", "_repr_json_"),
)


def _figure_png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode()


def _is_figure(obj):
    mod = sys.modules.get("matplotlib.figure")
    return mod is not None and isinstance(obj, mod.Figure)


def bundle(obj):
    """The MIME bundle of obj: its repr, and each rich form it offers."""
    data = {"text/plain": repr(obj)}
    if isinstance(obj, type):
        return data
    if _is_figure(obj):
        data["image/png"] = _figure_png(obj)
        return data
    for mime, name in _REPRS:
        method = getattr(obj, name, None)
        if not callable(method):
            continue
        try:
            value = method()
        except Exception:
            continue
        if isinstance(value, tuple):
            value = value[0]
        if value is None:
            continue
        if isinstance(value, bytes):
            value = base64.b64encode(value).decode()
        elif mime == "application/json":
            value = json.dumps(value)
        data[mime] = str(value)
    return data


def display(*objs):
    """Shows each object as a rich result of the running execution."""
    for obj in objs:
        send({"type": "display", "data": bundle(obj), "main": False})


builtins.display = display


def _figures():
    """Sends every open matplotlib figure as image/png and closes it."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return
    for num in plt.get_fignums():
        fig = plt.figure(num)
        send({"type": "display", "data": {"text/plain": repr(fig), "image/png": _figure_png(fig)}, "main": False})
    plt.close("all")


NS = {"__name__": "__main__", "__builtins__": builtins}


def run(code, n):
    global _running
    name = "<cell-%d>" % n
    linecache.cache[name] = (len(code), None, code.splitlines(True), name)
    try:
        _running = True
        tree = ast.parse(code, name, "exec")
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        exec(compile(tree, name, "exec"), NS)
        value = None
        if last is not None:
            value = eval(compile(last, name, "eval"), NS)
        _figures()
        if value is not None:
            NS["_"] = value
            send({"type": "display", "data": bundle(value), "main": True})
    except BaseException as e:
        _running = False
        tb = e.__traceback__
        while tb is not None and not tb.tb_frame.f_code.co_filename.startswith("<cell-"):
            tb = tb.tb_next
        text = "".join(traceback.format_exception(type(e), e, tb))
        send({"type": "error", "name": type(e).__name__, "value": str(e), "traceback": text})
    finally:
        _running = False
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        for fd in (1, 2):
            try:
                os.write(fd, MARKER)
            except OSError:
                pass
        send({"type": "done"})


def main():
    send({"type": "ready"})
    n = 0
    for line in CTL.makefile("rb"):
        n += 1
        try:
            req = json.loads(line)
        except ValueError:
            continue
        run(req.get("code", ""), n)


main()
