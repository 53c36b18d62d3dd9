// The gitPython runtime's driver (ADS's driver_oci.py, rewritten): the job's artifact. Inside the run it clones the
// repository the job's variables name (ADS's GIT_URL, GIT_BRANCH, GIT_COMMIT, GIT_ENTRYPOINT, ENTRY_FUNCTION,
// PYTHON_PATH, WORKING_DIR, OUTPUT_DIR, OUTPUT_URI, GIT_SECRET_OCID, SKIP_METADATA_UPDATE, CODE_DIR) and runs the
// entrypoint in its own process, as ADS's does. Kept as text here because the spec reader is bundled into the web
// console and reads no files; only the standard library and the `git` and `openssl` commands are used, so any
// Python 3 the run has (the system's or a conda environment's) runs it.

export const GIT_DRIVER_NAME = 'driver_oci.py';

export const GIT_DRIVER_PY = String.raw`# dsjobs gitPython driver: clone the job's repository inside the run, then run its entrypoint.
import base64
import email.utils
import hashlib
import importlib
import importlib.util
import json
import os
import re
import runpy
import shutil
import subprocess
import sys
import tempfile
import traceback
import urllib.error
import urllib.parse
import urllib.request

FAILURE_EXIT = 3


def log(msg):
    print("[gitPython] " + msg, flush=True)


def fail(what):
    # The server copies the last such line into the run's lifecycleDetails (docs/ads-runtimes.md).
    sys.stdout.flush()
    print("DSJOBS_FAILURE: gitPython: " + what, file=sys.stderr, flush=True)
    sys.exit(FAILURE_EXIT)


def redact(url):
    # user:password@ in a URL is never printed.
    return re.sub(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@", r"\1***@", url)


def signed_request(method, path, body=None):
    """A request to dsjobs signed as the run's resource principal (OCI HTTP signature, RSA-SHA256 by openssl)."""
    endpoint = os.environ.get("DSJOBS_ENDPOINT")
    rpst = os.environ.get("OCI_RESOURCE_PRINCIPAL_RPST")
    pem = os.environ.get("OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM")
    if not (endpoint and rpst and pem):
        raise PermissionError("the run has no principal (no policy names it: docs/identity.md, Run principals)")
    token = open(rpst).read().strip() if os.path.isfile(rpst) else rpst
    url = endpoint.rstrip("/") + path
    parts = urllib.parse.urlsplit(url)
    headers = {"date": email.utils.formatdate(usegmt=True), "host": parts.netloc}
    names = ["date", "(request-target)", "host"]
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["content-type"] = "application/json"
        headers["content-length"] = str(len(data))
        headers["x-content-sha256"] = base64.b64encode(hashlib.sha256(data).digest()).decode()
        names += ["content-length", "content-type", "x-content-sha256"]
    target = method.lower() + " " + parts.path + ("?" + parts.query if parts.query else "")
    lines = [("(request-target): " + target) if n == "(request-target)" else (n + ": " + headers[n]) for n in names]
    signed = subprocess.run(["openssl", "dgst", "-sha256", "-sign", pem], input="\n".join(lines).encode(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True).stdout
    headers["authorization"] = ('Signature version="1",keyId="ST$%s",algorithm="rsa-sha256",headers="%s",signature="%s"'
                                % (token, " ".join(names), base64.b64encode(signed).decode()))
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read().decode() or "null")


def read_secret(secret_id):
    try:
        bundle = signed_request("GET", "/20190301/secretbundles/" + urllib.parse.quote(secret_id, safe=""))
    except urllib.error.HTTPError as e:
        fail("cannot read the repository secret %s: HTTP %d (the run's principal needs 'read secret-bundles' on it)" % (secret_id, e.code))
    except Exception as e:
        fail("cannot read the repository secret %s: %s" % (secret_id, e))
    return base64.b64decode(bundle["secretBundleContent"]["content"]).decode()


def credential_env(url, secret, home):
    """How git gets the secret: an SSH key through GIT_SSH_COMMAND, else HTTP Basic (user:token, or a bare token)
    through an http.extraHeader set in git's environment: never in an argument, a URL or a file under the code."""
    env = {}
    if "PRIVATE KEY-----" in secret:
        key = os.path.join(home, "id_git")
        with open(os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(secret if secret.endswith("\n") else secret + "\n")
        env["GIT_SSH_COMMAND"] = ("ssh -i %s -o IdentitiesOnly=yes -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=%s"
                                  % (key, os.path.join(home, "known_hosts")))
        return env
    secret = secret.strip()
    if ":" not in secret:
        user = urllib.parse.urlsplit(url).username or "x-access-token"
        secret = user + ":" + secret
    env["http.extraHeader"] = "Authorization: Basic " + base64.b64encode(secret.encode()).decode()
    return env


def git_config_env(config):
    """Settings for every git command, through git's environment (not inherited by the upload-pack of a local clone)."""
    env = {"GIT_CONFIG_COUNT": str(len(config))}
    for i, (k, v) in enumerate(config.items()):
        env["GIT_CONFIG_KEY_%d" % i] = k
        env["GIT_CONFIG_VALUE_%d" % i] = v
    return env


def git(args, cwd, env):
    return subprocess.run(["git"] + args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def last_line(out):
    # git's own reason is its "fatal:" line; the lines after it are advice ("Please make sure you have the correct
    # access rights and the repository exists.") that says nothing about this failure.
    lines = [l.strip() for l in out.strip().splitlines() if l.strip()]
    fatal = [l for l in lines if l.startswith("fatal:")]
    return fatal[0] if fatal else (lines[-1] if lines else "no output")


def clone(url, branch, commit, code_dir, env):
    shown = redact(url)
    if os.path.exists(code_dir):
        shutil.rmtree(code_dir)
    os.makedirs(code_dir)
    git(["init", "-q"], code_dir, env)
    git(["remote", "add", "origin", url], code_dir, env)
    # One look at the remote first: an unreachable URL and a missing branch are told apart from each other.
    remote = git(["ls-remote", "origin"], code_dir, env)
    if remote.returncode != 0:
        fail("cannot reach repository %s: %s" % (shown, last_line(remote.stdout)))
    heads = {l.split("\t")[1][len("refs/heads/"):] for l in remote.stdout.splitlines() if "\trefs/heads/" in l}
    if branch and branch not in heads:
        fail("branch '%s' not found in %s (branches: %s)" % (branch, shown, ", ".join(sorted(heads)) or "none"))
    if commit:
        # Shallow when the server hands out a commit by id (protocol v2 and file:// do); else the branch's (or all)
        # history, which holds it if it exists.
        got = git(["fetch", "-q", "--depth", "1", "origin", commit], code_dir, env)
        if got.returncode != 0:
            refspec = "+refs/heads/%s:refs/remotes/origin/%s" % (branch, branch) if branch else "+refs/heads/*:refs/remotes/origin/*"
            got = git(["fetch", "-q", "origin", refspec], code_dir, env)
            if got.returncode != 0:
                fail("cannot fetch from %s: %s" % (shown, last_line(got.stdout)))
        co = git(["-c", "advice.detachedHead=false", "checkout", "-q", "--detach", commit], code_dir, env)
        if co.returncode != 0:
            fail("commit '%s' not found in %s%s" % (commit, shown, " (branch %s)" % branch if branch else ""))
    else:
        ref = "refs/heads/" + branch if branch else "HEAD"
        got = git(["fetch", "-q", "--depth", "1", "origin", ref], code_dir, env)
        if got.returncode != 0:
            fail("cannot fetch %s from %s: %s" % (branch or "the default branch", shown, last_line(got.stdout)))
        git(["-c", "advice.detachedHead=false", "checkout", "-q", "--detach", "FETCH_HEAD"], code_dir, env)
    return git(["rev-parse", "HEAD"], code_dir, env).stdout.strip()


def record_commit(url, sha, entry, function):
    """ADS's driver tags the run (commit, repo, module, method) unless SKIP_METADATA_UPDATE; the log has it always."""
    if os.environ.get("SKIP_METADATA_UPDATE", "").lower() in ("1", "true", "yes"):
        return
    run_id = os.environ.get("JOB_RUN_OCID")
    if not run_id:
        return
    try:
        path = "/20190101/jobRuns/" + urllib.parse.quote(run_id, safe="")
        run = signed_request("GET", path)
        tags = dict(run.get("freeformTags") or {})
        tags.update({"commit": sha, "repo": redact(url), "module": entry})
        if function:
            tags["method"] = function
        signed_request("PUT", path, {"freeformTags": tags})
        log("recorded as the run's freeform tag commit=%s" % sha)
    except Exception as e:
        detail = ("HTTP %d" % e.code) if isinstance(e, urllib.error.HTTPError) else str(e)
        log("the commit is not recorded as a tag (%s); this log records it" % detail)


def split_args(argv):
    """ADS's calling convention for a function: positional arguments, then --key value pairs as keyword arguments
    (a --key with no value, or followed by another --option, is None); '-' in keys becomes '_'."""
    args, kwargs, i = [], {}, 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("--") and len(a) > 2:
            key = a[2:].replace("-", "_")
            if "=" in key:
                key, value = key.split("=", 1)
                kwargs[key] = value
            elif i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                kwargs[key] = argv[i + 1]
                i += 1
            else:
                kwargs[key] = None
        else:
            args.append(a)
        i += 1
    return args, kwargs


def run_entry(code_dir, entry, function, argv):
    if entry.endswith(".py"):
        path = os.path.normpath(os.path.join(code_dir, entry))
        if not os.path.isfile(path):
            fail("entrypoint '%s' not found in the repository" % entry)
        sys.path.insert(0, os.path.dirname(path))
        if not function:
            sys.argv = [path] + argv
            runpy.run_path(path, run_name="__main__")
            return
        spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(path))[0], path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    else:
        try:
            spec = importlib.util.find_spec(entry)
        except ModuleNotFoundError:
            spec = None
        if spec is None:
            fail("entrypoint module '%s' not found in the repository" % entry)
        if not function:
            sys.argv = [entry] + argv
            runpy.run_module(entry, run_name="__main__", alter_sys=True)
            return
        module = importlib.import_module(entry)
    func = getattr(module, function, None)
    if not callable(func):
        fail("entrypoint function '%s' not found in %s" % (function, entry))
    args, kwargs = split_args(argv)
    sys.argv = [entry] + argv
    func(*args, **kwargs)


def copy_outputs(code_dir, output_dir, output_uri):
    if not output_dir or not output_uri:
        return
    src = os.path.join(code_dir, output_dir)
    if output_uri.lower().startswith("oci://"):
        # The server copies it once the run ended (successfully or not), from the run's working directory.
        log("OUTPUT_DIR %s goes to %s when the run ends" % (output_dir, output_uri))
        return
    dest = output_uri[len("file://"):] if output_uri.startswith("file://") else output_uri
    if not dest.startswith("/"):
        log("OUTPUT_URI %s: not copied (an oci:// URI or a local path, such as a storage mount)" % output_uri)
        return
    if os.path.isdir(src):
        shutil.copytree(src, dest, dirs_exist_ok=True)
        log("copied %s to %s" % (output_dir, dest))


def main():
    url = os.environ.get("GIT_URL", "")
    if not url:
        fail("GIT_URL is not set (the job's url)")
    branch = os.environ.get("GIT_BRANCH") or None
    commit = os.environ.get("GIT_COMMIT") or None
    entry = os.environ.get("GIT_ENTRYPOINT") or os.environ.get("CODE_ENTRYPOINT") or ""
    function = os.environ.get("ENTRY_FUNCTION") or None
    if ":" in entry and not function:
        entry, function = entry.split(":", 1)
    if not entry:
        fail("GIT_ENTRYPOINT is not set (the job's entrypoint)")
    code_dir = os.path.abspath(os.environ.get("CODE_DIR") or "code")
    home = tempfile.mkdtemp(prefix="git-")
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="true", SSH_ASKPASS="true")
    for k in ("GIT_CONFIG_COUNT", "GIT_DIR", "GIT_WORK_TREE"):
        env.pop(k, None)
    # A file:// repository belongs to another user than the run's: git refuses such a repository unless told it is
    # safe. In global config, not the environment's: the upload-pack that git starts for a local repository does not
    # get GIT_CONFIG_COUNT/GIT_CONFIG_PARAMETERS, and it is the one that checks ownership.
    global_config = os.path.join(home, "gitconfig")
    with open(global_config, "w") as f:
        f.write("[safe]\n\tdirectory = *\n")
    env["GIT_CONFIG_GLOBAL"] = global_config
    config = {}
    secret_id = os.environ.get("GIT_SECRET_OCID") or os.environ.get("GIT_SECRET_ID")
    if secret_id:
        cred = credential_env(url, read_secret(secret_id), home)
        if "http.extraHeader" in cred:
            config["http.extraHeader"] = cred.pop("http.extraHeader")
        env.update(cred)
    env.update(git_config_env(config))
    log("cloning %s%s%s" % (redact(url), " branch " + branch if branch else "", " commit " + commit if commit else ""))
    sha = clone(url, branch, commit, code_dir, env)
    shutil.rmtree(home, ignore_errors=True)
    log("running commit %s of %s: %s%s" % (sha, redact(url), entry, ":" + function if function else ""))
    record_commit(url, sha, entry, function)

    work = os.path.join(code_dir, os.environ.get("WORKING_DIR") or "")
    os.chdir(work)
    extra = [os.path.join(code_dir, p) for p in (os.environ.get("PYTHON_PATH") or "").split(":") if p]
    sys.path[:0] = extra + [work, code_dir]
    os.environ["PYTHONPATH"] = os.pathsep.join(extra + [code_dir] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))
    try:
        run_entry(code_dir, entry, function, sys.argv[1:])
    except SystemExit as e:
        if e.code not in (None, 0):
            raise
    except BaseException as e:
        traceback.print_exc()
        sys.stderr.flush()
        print("DSJOBS_FAILURE: gitPython: %s raised %s: %s" % (entry + (":" + function if function else ""), type(e).__name__, e),
              file=sys.stderr, flush=True)
        sys.exit(1)
    copy_outputs(code_dir, os.environ.get("OUTPUT_DIR"), os.environ.get("OUTPUT_URI"))


if __name__ == "__main__":
    main()
`;
