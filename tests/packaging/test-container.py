#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The worker as a container, built and run with podman (suite slow).

A local base image from debootstrap (kept between runs), the images of
worker/Containerfile built on it (the worker, the default target, the example
engine, --target engine, and the definitions update, --target defs), s3rver and dynalite on 127.0.0.1 (as
tests/integration/test-servers.c starts them), then: `assay-cli init`, the worker
container on the host's network, `assay-cli submit --wait` with the built client, and the
decrypted result checked against assay-inspect's output; while it runs, the container's
processes hold no listening TCP socket and no UDP socket, run as a non-root user, and
`podman healthcheck run` passes; it stops with status 0 on SIGTERM. The same with the
engine image as an HTTP engine. Timings are printed as TAP comments.

    test-container.py SRCDIR ASSAY_CLI ASSAY_WORKER ASSAY_INSPECT      (TAP on stdout)

Environment: ASSAY_TEST_NODE_MODULES (s3rver, dynalite). The images stay after the run:
the base image costs a debootstrap, and podman's layer cache makes the next build quick.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

BASE_IMAGE = "localhost/assay-bookworm"
WORKER_IMAGE = "localhost/assay-worker:test"
ENGINE_IMAGE = "localhost/assay-engine:test"
BUILD_IMAGE = "localhost/assay-worker-build:test"
DEFS_IMAGE = "localhost/assay-defs:test"
BUCKET = "assay-container-bucket"
REGION = "eu-west-1"
ACCESS_KEY = "AKIDASSAYTEST"
SECRET_KEY = "assay-test-secret-key/not+a+real+one"
# What works on a CI machine: runc (crun fails on its cgroups), and these limits.
RUN_ARGS = ["--runtime", "runc", "--network", "host",
            "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"]

n = 0
failed = False
started = time.monotonic()


def tap(ok, description, *details):
    global n, failed
    n += 1
    if not ok:
        failed = True
    print(f"{'ok' if ok else 'not ok'} {n} - {description}", flush=True)
    for d in details if not ok else []:
        for line in str(d).splitlines():
            print(f"# {line}", flush=True)
    return ok


def note(text):
    print(f"# {text}", flush=True)


def bail(reason):
    print(f"Bail out! {reason}", flush=True)
    sys.exit(1)


def run(argv, check=True, timeout=900, **kwargs):
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        bail(f"{' '.join(argv[:4])}… exited {result.returncode}:\n{result.stderr[-3000:]}")
    return result


def mirror():
    """The Debian mirror this machine's apt uses (deb822 or one-line sources)."""
    paths = ["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"]
    for path in paths:
        try:
            text = open(path, encoding="utf-8").read()
        except OSError:
            continue
        for m in re.finditer(r"^URIs:\s*(\S+)", text, re.M):
            if not m.group(1).rstrip("/").endswith("-security"):
                return m.group(1)
        for m in re.finditer(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+bookworm\s", text, re.M):
            return m.group(1)
    return "http://deb.debian.org/debian"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, process, what, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            bail(f"{what} exited before accepting connections")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    bail(f"{what} did not accept connections on 127.0.0.1:{port} within {timeout} s")


class Servers:
    """s3rver and dynalite from tests/node_modules, as tests/integration/test-servers.c
    starts them."""

    def __init__(self, src, tmp):
        modules = os.environ.get("ASSAY_TEST_NODE_MODULES", os.path.join(src, "tests", "node_modules"))
        node = shutil.which("node")
        if node is None or not os.path.exists(os.path.join(modules, "s3rver", "bin", "s3rver.js")):
            bail(f"node, s3rver or dynalite missing (in {modules}): run ./run deps")
        env = dict(os.environ, NODE_PATH=modules, ASSAY_TEST_ACCESS_KEY_ID=ACCESS_KEY,
                   ASSAY_TEST_SECRET_ACCESS_KEY=SECRET_KEY)
        self.s3_port = free_port()
        s3_dir = os.path.join(tmp, "s3rver")
        os.mkdir(s3_dir)
        self.s3 = subprocess.Popen(
            [node, "--openssl-legacy-provider", "--require",
             os.path.join(src, "tests", "integration", "s3rver-test-key.js"),
             os.path.join(modules, "s3rver", "bin", "s3rver.js"), "-d", s3_dir,
             "-a", "127.0.0.1", "-p", str(self.s3_port), "--silent",
             "--configure-bucket", BUCKET],
            env=env, stdout=subprocess.DEVNULL)
        self.ddb_port = free_port()
        self.ddb = subprocess.Popen(
            [node, os.path.join(modules, "dynalite", "cli.js"), "--host", "127.0.0.1",
             "--port", str(self.ddb_port), "--createTableMs", "50", "--deleteTableMs", "50",
             "--updateTableMs", "50"],
            env=env, stdout=subprocess.DEVNULL)
        wait_port(self.s3_port, self.s3, "s3rver")
        wait_port(self.ddb_port, self.ddb, "dynalite")

    def flags(self):
        return [f"--bucket={BUCKET}", f"--region={REGION}",
                f"--s3-endpoint=http://127.0.0.1:{self.s3_port}",
                f"--dynamodb-endpoint=http://127.0.0.1:{self.ddb_port}"]

    def stop(self):
        for p in (self.s3, self.ddb):
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()


def base_image():
    """localhost/assay-bookworm: debootstrap --variant=minbase and podman import, once."""
    if run(["podman", "image", "exists", BASE_IMAGE], check=False).returncode == 0:
        note(f"base image {BASE_IMAGE}: kept from an earlier run")
        return
    if shutil.which("debootstrap") is None:
        bail("debootstrap is not installed (apt-get install debootstrap)")
    t = time.monotonic()
    root = tempfile.mkdtemp(prefix="assay-bookworm-", dir="/var/tmp")
    try:
        run(["debootstrap", "--variant=minbase", "bookworm", root, mirror()], timeout=1800)
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        result = subprocess.run(["podman", "import", "-", BASE_IMAGE], stdin=tar.stdout,
                                capture_output=True, text=True)
        tar.stdout.close()
        tar.wait()
        if result.returncode != 0 or tar.returncode != 0:
            bail(f"podman import failed: {result.stderr}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    note(f"base image {BASE_IMAGE}: debootstrap and import took {time.monotonic() - t:.1f} s")


def build(src, target, tag):
    argv = ["podman", "build", "--runtime", "runc", "--format", "docker",
            "--build-arg", f"BASE={BASE_IMAGE}", "-f", os.path.join(src, "worker", "Containerfile"),
            "-t", tag]
    if target:
        argv += ["--target", target]
    t = time.monotonic()
    result = run(argv + [src], check=False, timeout=1800)
    tap(result.returncode == 0, f"podman build {target or 'worker'} ({time.monotonic() - t:.1f} s)",
        *([result.stdout[-3000:], result.stderr[-3000:]] if result.returncode else []))
    if result.returncode != 0:
        bail("the image could not be built")


def proc_tree(pid):
    """@pid and its descendants."""
    pids = [pid]
    for p in pids:
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    pids += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return pids


def socket_problems(pid):
    """Listening TCP sockets or UDP sockets held by @pid's processes (the inodes of their
    fds, looked up in /proc/PID/net/{tcp,tcp6,udp,udp6}). Returns (problems, summary)."""
    problems = []
    inodes = {}
    for p in proc_tree(pid):
        try:
            for fd in os.listdir(f"/proc/{p}/fd"):
                try:
                    target = os.readlink(f"/proc/{p}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith("socket:["):
                    inodes[target[8:-1]] = p
        except OSError:
            pass
    counts = {}
    for table in ("tcp", "tcp6", "udp", "udp6"):
        with open(f"/proc/{pid}/net/{table}") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if len(fields) < 10 or fields[9] not in inodes:
                    continue
                state = fields[3]
                counts[(table, state)] = counts.get((table, state), 0) + 1
                if table.startswith("udp") or state == "0A":
                    problems.append(f"process {inodes[fields[9]]}: {table} socket {fields[1]} state {state}")
    summary = ", ".join(f"{t} state {s}: {c}" for (t, s), c in sorted(counts.items())) or "none"
    return problems, f"{len(inodes)} sockets ({summary})"


class Container:
    def __init__(self, name, image, args, env, entrypoint=None):
        self.name = name
        argv = ["podman", "run", "-d", "--name", name] + RUN_ARGS
        for k, v in env.items():
            argv += ["-e", f"{k}={v}"]
        if entrypoint:
            argv += ["--entrypoint", entrypoint]
        run(argv + [image] + args)

    def logs(self):
        r = run(["podman", "logs", self.name], check=False)
        return r.stdout, r.stderr

    def inspect(self, fmt):
        return run(["podman", "inspect", "--format", fmt, self.name]).stdout.strip()

    def wait_log(self, pattern, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out, err = self.logs()
            if re.search(pattern, out + err):
                return True
            if self.inspect("{{.State.Running}}") != "true":
                return False
            time.sleep(0.1)
        return False

    def remove(self):
        run(["podman", "rm", "-f", "-t", "0", self.name], check=False)


def worker_events(out):
    events = []
    for line in out.splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            pass
    return events


def main():
    src, cli, host_worker, inspect = [os.path.abspath(a) for a in sys.argv[1:5]]
    if shutil.which("podman") is None or shutil.which("runc") is None:
        print("1..0 # SKIP podman and runc are needed (apt-get install podman runc)")
        return 0

    t = time.monotonic()
    base_image()
    # The build stage tagged too, so that pruning keeps its layers (apt's above all) for
    # the next run and drops only those of earlier source trees.
    build(src, "build", BUILD_IMAGE)
    build(src, None, WORKER_IMAGE)
    build(src, "engine", ENGINE_IMAGE)
    build(src, "defs", DEFS_IMAGE)
    run(["podman", "image", "prune", "-f"], check=False)
    note(f"images ready in {time.monotonic() - t:.1f} s")
    size = run(["podman", "image", "inspect", "--format", "{{.Size}}", WORKER_IMAGE]).stdout.strip()
    note(f"worker image: {int(size) / 1e6:.0f} MB")
    healthcheck = run(["podman", "image", "inspect", "--format",
                       "{{json .Config.Healthcheck}}", WORKER_IMAGE]).stdout
    tap('"assay-worker","health"' in healthcheck.replace(" ", ""),
        "the image keeps its HEALTHCHECK (docker format)", healthcheck)
    exposed = run(["podman", "image", "inspect", "--format", "{{json .Config.ExposedPorts}}",
                   WORKER_IMAGE]).stdout.strip()
    tap(exposed in ("null", "{}", ""), "the worker image exposes no port", exposed)
    # the definitions image: freshclam and assay-worker run in it (fetching needs the
    # internet, which the tests do not have)
    r = run(["podman", "run", "--rm"] + RUN_ARGS + ["--entrypoint", "/bin/sh", DEFS_IMAGE, "-c",
             "freshclam --version && assay-worker --version"], check=False)
    tap(r.returncode == 0 and "ClamAV" in r.stdout, "the defs image runs freshclam and assay-worker",
        r.stdout, r.stderr)

    tmp = tempfile.mkdtemp(prefix="assay-container-test-")
    servers = Servers(src, tmp)
    containers = []
    env = dict(os.environ, HOME=tmp, XDG_CONFIG_HOME=f"{tmp}/config", XDG_DATA_HOME=f"{tmp}/data",
               XDG_STATE_HOME=f"{tmp}/state", XDG_CACHE_HOME=f"{tmp}/cache",
               AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY, AWS_REGION=REGION)
    env = {k: v for k, v in env.items() if not (k.startswith("ASSAY_") and k != "ASSAY_CLI")}
    try:
        r = run([cli, "init"] + servers.flags(), env=env, check=False)
        tap(r.returncode == 0, "assay-cli init on s3rver and dynalite", r.stderr)
        run([cli, "key", "generate"], env=env)

        # Definitions for the scan stage, published to the store: one signature of ours.
        defs = os.path.join(tmp, "defs")
        os.mkdir(defs)
        with open(os.path.join(defs, "assay-test.ndb"), "w") as f:
            f.write("Assay.Test.Container-1:0:*:41535341592d434f4e5441494e45522d54455354\n")
        r = run([host_worker, "defs", "publish", "--from", defs] + servers.flags(), env=env,
                check=False)
        worker_env = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                      "AWS_REGION": REGION}
        if r.returncode == 0:
            note("definitions published with assay-worker defs publish")
        else:
            note(f"assay-worker defs publish unavailable here ({r.stderr.strip()[:200]}): "
                 "the worker runs without definitions")
            worker_env["ASSAY_WORKER_ALLOW_NO_DEFINITIONS"] = "true"
        flags = servers.flags() + ["--poll-min=50ms", "--poll-max=250ms", "--concurrency=2"]

        # ---- the worker image, with its bundled engine ----
        t = time.monotonic()
        name = f"assay-worker-test-{os.getpid()}"
        w = Container(name, WORKER_IMAGE, flags, worker_env)
        containers.append(w)
        up = w.wait_log(r'"event":"started"')
        tap(up, f"the worker container starts ({time.monotonic() - t:.1f} s)", *w.logs())
        if not up:
            bail("the worker did not start")

        sample = os.path.join(tmp, "sample.txt")
        with open(sample, "w") as f:
            f.write("Assay in a container: compressed, uploaded, analysed, encrypted.\n" * 50)
        t = time.monotonic()
        r = run([cli, "submit", "--wait", sample] + servers.flags(), env=env, check=False,
                timeout=180)
        elapsed = time.monotonic() - t
        lines = r.stdout.splitlines()
        ids = [l for l in lines if l.startswith("job-")]
        envelopes = [json.loads(l) for l in lines if l.startswith("{")]
        expected = json.loads(run([inspect, sample]).stdout)
        good = (r.returncode == 0 and len(ids) == 1 and len(envelopes) == 1 and
                envelopes[0].get("job") == ids[0] and envelopes[0].get("engine") == expected)
        tap(good, f"assay-cli submit --wait gets the decrypted result ({elapsed:.1f} s)",
            r.stdout[-2000:], r.stderr[-2000:], *w.logs())
        events = worker_events(w.logs()[0])
        processed = [e for e in events if e.get("event") == "processed"]
        tap(len(ids) == 1 and any(e.get("job") == ids[0] for e in processed),
            "the container's worker processed the job", *w.logs())

        # a file that matches the signature published above: the scan stage in the
        # container refuses it
        infected = os.path.join(tmp, "eicar-like.txt")
        with open(infected, "w") as f:
            f.write("This line carries ASSAY-CONTAINER-TEST, the test signature.\n")
        r = run([cli, "submit", "--wait", infected] + servers.flags(), env=env, check=False,
                timeout=180)
        job = next((l for l in r.stdout.splitlines() if l.startswith("job-")), None)
        status = {}
        if job:
            s = run([cli, "status", job, "--json"] + servers.flags(), env=env, check=False)
            try:
                status = json.loads(s.stdout)
            except ValueError:
                pass
        tap(status.get("status") == "ERROR" and "INFECTED" in json.dumps(status.get("error")),
            "a file matching the published definitions ends in INFECTED", r.stdout, r.stderr,
            json.dumps(status))

        pid = int(w.inspect("{{.State.Pid}}"))
        # the user inside the container (rootless podman maps it to another uid outside)
        top = run(["podman", "top", name, "user"], check=False).stdout.split()[1:]
        tap(top != [] and set(top) == {"assay"},
            f"the container's processes run as the image's user: {' '.join(top)}")
        problems, summary = socket_problems(pid)
        tap(not problems, f"the container listens on no port: {summary}", *problems)
        h = run(["podman", "healthcheck", "run", name], check=False)
        tap(h.returncode == 0, "podman healthcheck run: healthy", h.stdout, h.stderr)

        t = time.monotonic()
        run(["podman", "stop", "-t", "40", name], check=False)
        code = w.inspect("{{.State.ExitCode}}")
        out, _ = w.logs()
        tap(code == "0" and '"event":"stopped"' in out,
            f"SIGTERM stops the worker cleanly, exit status {code} ({time.monotonic() - t:.1f} s)")

        # ---- the engine image as the worker's HTTP engine ----
        port = free_port()
        e = Container(f"assay-engine-test-{os.getpid()}", ENGINE_IMAGE,
                      [f"--serve=127.0.0.1:{port}"], {})
        containers.append(e)
        tap(e.wait_log(r"http://127\.0\.0\.1:%d" % port), "the engine container serves", *e.logs())
        # the socket check sees a listening socket where there is one
        problems, summary = socket_problems(int(e.inspect("{{.State.Pid}}")))
        tap(any("state 0A" in p for p in problems),
            f"the same check finds the engine container's listening socket: {summary}")
        w2 = Container(f"assay-worker-http-test-{os.getpid()}", WORKER_IMAGE,
                       flags + [f"--engine-http=http://127.0.0.1:{port}/"], worker_env)
        containers.append(w2)
        w2.wait_log(r'"event":"started"')
        sample2 = os.path.join(tmp, "sample.bin")
        with open(sample2, "wb") as f:
            f.write(os.urandom(300000))
        r = run([cli, "submit", "--wait", sample2] + servers.flags(), env=env, check=False,
                timeout=180)
        envelopes = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
        expected = json.loads(run([inspect, sample2]).stdout)
        tap(r.returncode == 0 and len(envelopes) == 1 and envelopes[0].get("engine") == expected,
            "a job through the engine image over HTTP", r.stdout[-2000:], r.stderr[-2000:],
            *w2.logs(), *e.logs())
    finally:
        for c in containers:
            c.remove()
        servers.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    note(f"whole test: {time.monotonic() - started:.1f} s")
    print(f"1..{n}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
