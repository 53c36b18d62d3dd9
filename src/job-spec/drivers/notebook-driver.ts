// The notebook runtime's driver (ADS's driver_notebook.py, rewritten), at the top of the job's artifact with the
// notebook under code/. Inside the run it executes the notebook cell by cell on a real Jupyter kernel (Debian's
// python3-ipykernel), streams each cell's outputs to the run's log as they come, injects parameters the way
// papermill does, and saves the executed notebook. ADS's variables: JOB_RUN_NOTEBOOK, NOTEBOOK_ENCODING,
// NOTEBOOK_EXCLUDE_TAGS, OUTPUT_URI. Kept as text because the spec reader is bundled into the web console.

export const NOTEBOOK_DRIVER_NAME = 'driver_notebook.py';

export const NOTEBOOK_DRIVER_PY = String.raw`# dsjobs notebook driver: run a notebook cell by cell on a Jupyter kernel, its outputs streamed to the log.
import ast
import json
import os
import queue
import re
import shutil
import sys
import tempfile
import urllib.request
import warnings

FAILURE_EXIT = 3
# The executed notebook's copy at the top of the run's working directory, which the server keeps with the run.
EXECUTED_FOR_SERVER = ".dsjobs-executed.ipynb"
# Where a Python with jupyter_client, nbformat and ipykernel is when the run's own has none (Debian's packages).
FALLBACK_PYTHON = "/usr/bin/python3"


def log(msg):
    print("[notebook] " + msg, flush=True)


def fail(what, code=FAILURE_EXIT):
    # The server copies the last such line into the run's lifecycleDetails (docs/ads-runtimes.md).
    sys.stdout.flush()
    print("DSJOBS_FAILURE: notebook: " + what, file=sys.stderr, flush=True)
    sys.exit(code)


try:
    import jupyter_client
    import nbformat
    import ipykernel  # noqa: F401 (the kernel this driver starts)
except ImportError:
    for candidate in (os.environ.get("NOTEBOOK_PYTHON"), FALLBACK_PYTHON):
        if candidate and os.access(candidate, os.X_OK) and os.path.realpath(candidate) != os.path.realpath(sys.executable):
            os.execv(candidate, [candidate] + sys.argv)
    fail("no Python with jupyter_client, nbformat and ipykernel here (install python3-ipykernel and jupyter-nbconvert, or set NOTEBOOK_PYTHON)")

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def literal(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parameters(argv, names):
    """papermill's parameters: --name value or name=value from the run's arguments, and the run's environment
    variables named as a variable of the notebook's 'parameters' cell; values read as Python literals when they are."""
    params = {}
    for n in names:
        if n in os.environ:
            params[n] = literal(os.environ[n])
    i = 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("--") and "=" in a:
            k, v = a[2:].split("=", 1)
            params[k.replace("-", "_")] = literal(v)
        elif a.startswith("--") and i + 1 < len(argv):
            params[a[2:].replace("-", "_")] = literal(argv[i + 1])
            i += 1
        elif "=" in a and a.split("=", 1)[0].isidentifier():
            k, v = a.split("=", 1)
            params[k] = literal(v)
        i += 1
    return {k: v for k, v in params.items() if k.isidentifier()}


def assigned_names(source):
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [t.id for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target]) if isinstance(t, ast.Name)]


def inject(nb, argv):
    at = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])), -1)
    params = parameters(argv, assigned_names(nb.cells[at].source) if at >= 0 else [])
    if not params:
        return
    source = "# Parameters\n" + "".join("%s = %r\n" % (k, v) for k, v in params.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(at + 1, cell)
    log("parameters: " + ", ".join("%s=%r" % kv for kv in params.items()))


def show(text, stream=None):
    (stream or sys.stdout).write(text if text.endswith("\n") else text + "\n")
    (stream or sys.stdout).flush()


def run_cell(km, kc, cell):
    """Executes one cell; its outputs are printed as they arrive and kept on the cell. Returns the error content or None.
    No time limit of its own (the run's maximum runtime is one), but a kernel that dies ends the wait."""
    msg_id = kc.execute(cell.source, store_history=True, allow_stdin=False, stop_on_error=True)
    cell.outputs = []
    error = None
    while True:
        try:
            msg = kc.get_iopub_msg(timeout=1)
        except queue.Empty:
            if not km.is_alive():
                return {"ename": "DeadKernelError", "evalue": "the kernel exited while running the cell"}
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            sys.stdout.write(content["text"]) if content["name"] == "stdout" else sys.stderr.write(content["text"])
            (sys.stdout if content["name"] == "stdout" else sys.stderr).flush()
            cell.outputs.append(nbformat.v4.new_output("stream", name=content["name"], text=content["text"]))
        elif kind in ("execute_result", "display_data"):
            text = content.get("data", {}).get("text/plain")
            if text:
                show(text)
            out = nbformat.v4.new_output(kind, data=content.get("data", {}), metadata=content.get("metadata", {}))
            if kind == "execute_result":
                out.execution_count = content.get("execution_count")
            cell.outputs.append(out)
        elif kind == "error":
            show(ANSI.sub("", "\n".join(content.get("traceback", []))), sys.stderr)
            cell.outputs.append(nbformat.v4.new_output("error", ename=content["ename"], evalue=content["evalue"], traceback=content["traceback"]))
            error = content
        elif kind == "status" and content["execution_state"] == "idle":
            break
    # The reply follows the idle status at once; a minute covers a loaded host.
    reply = kc.get_shell_msg(timeout=60)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=60)
    cell.execution_count = reply["content"].get("execution_count")
    if reply["content"].get("status") == "error" and error is None:
        error = reply["content"]
    return error


def find_notebook():
    nb = os.environ.get("JOB_RUN_NOTEBOOK", "")
    here = os.path.dirname(os.path.abspath(__file__))
    if re.match(r"^https?://", nb):
        local = os.path.join(here, os.path.basename(nb.split("?")[0]) or "notebook.ipynb")
        log("downloading " + nb)
        try:
            with urllib.request.urlopen(nb, timeout=120) as r, open(local, "wb") as f:
                shutil.copyfileobj(r, f)
        except Exception as e:
            fail("cannot download notebook %s: %s" % (nb, e))
        return local
    if not nb:
        found = [os.path.join(d, f) for d, _, fs in os.walk(os.path.join(here, "code")) for f in fs if f.endswith(".ipynb")]
        if len(found) != 1:
            fail("JOB_RUN_NOTEBOOK is not set and the artifact holds %d notebooks" % len(found))
        return found[0]
    path = nb if os.path.isabs(nb) else os.path.join(here, nb)
    if not os.path.isfile(path):
        fail("notebook '%s' not found in the artifact" % nb)
    return path


def copy_output(executed, uri):
    if not uri:
        return
    if uri.lower().startswith("oci://"):
        # The server copies the executed notebook there once the run ended (it keeps it with the run, too).
        log("the executed notebook goes to %s when the run ends" % uri)
        return
    dest = uri[len("file://"):] if uri.startswith("file://") else uri
    if not dest.startswith("/"):
        log("OUTPUT_URI %s: not copied (an oci:// URI or a local path, such as a storage mount)" % uri)
        return
    try:
        os.makedirs(dest, exist_ok=True)
        shutil.copy(executed, dest)
        log("copied the executed notebook to " + dest)
    except OSError as e:
        log("OUTPUT_URI %s: not copied: %s" % (uri, e))


def main():
    path = find_notebook()
    encoding = os.environ.get("NOTEBOOK_ENCODING") or "utf-8"
    try:
        exclude = set(json.loads(os.environ.get("NOTEBOOK_EXCLUDE_TAGS") or "[]"))
    except ValueError:
        fail("NOTEBOOK_EXCLUDE_TAGS is not a JSON list")
    try:
        with open(path, encoding=encoding) as f, warnings.catch_warnings():
            # Cells without ids (nbformat < 4.5 notebooks) are given some; the warning about it is noise in the log.
            warnings.simplefilter("ignore")
            nb = nbformat.read(f, as_version=4)
    except Exception as e:
        fail("cannot read %s as a notebook (%s): %s" % (os.path.basename(path), encoding, e))
    # Cells are named by their place in the notebook as written, the injected parameters cell not counted.
    number = {id(c): i + 1 for i, c in enumerate(nb.cells)}
    inject(nb, sys.argv[1:])
    runtime = tempfile.mkdtemp(prefix="jupyter-")
    os.environ.setdefault("JUPYTER_RUNTIME_DIR", runtime)
    os.environ.setdefault("IPYTHONDIR", os.path.join(runtime, "ipython"))
    os.environ.setdefault("MPLBACKEND", "agg")
    # ipykernel's debugger prints four warning lines into every run's log otherwise.
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    km = jupyter_client.KernelManager(kernel_name=nb.metadata.get("kernelspec", {}).get("name") or "python3")
    if km.kernel_name not in jupyter_client.kernelspec.KernelSpecManager().find_kernel_specs():
        km = jupyter_client.KernelManager(kernel_name="python3")
    km.start_kernel(cwd=os.path.dirname(path))
    kc = km.client()
    kc.start_channels()
    failed = None
    try:
        kc.wait_for_ready(timeout=120)
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            label = ("cell %d" % number[id(cell)]) if id(cell) in number else "the injected parameters cell"
            tags = set(cell.metadata.get("tags", []))
            if tags & exclude:
                log("%s skipped (tag %s)" % (label, ", ".join(sorted(tags & exclude))))
                continue
            error = run_cell(km, kc, cell)
            if error is not None:
                cell.metadata["dsjobs"] = {"failed": True}
                failed = (label, error.get("ename", "Error"), error.get("evalue", ""))
                break
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        shutil.rmtree(runtime, ignore_errors=True)
    executed = os.path.splitext(path)[0] + ".executed.ipynb"
    with open(executed, "w", encoding="utf-8") as f:
        nbformat.write(nb, f)
    # Where the server finds it when the run ends, to keep it with the run (service/run-outputs.ts).
    shutil.copy(executed, os.path.join(os.path.dirname(os.path.abspath(__file__)), EXECUTED_FOR_SERVER))
    copy_output(executed, os.environ.get("OUTPUT_URI"))
    if failed:
        fail("%s raised %s: %s" % failed, 1)
    log("notebook %s ran to its end" % os.path.basename(path))


if __name__ == "__main__":
    main()
`;
