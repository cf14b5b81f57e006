"""Checks the Kubernetes Indexed Job that docs/experiments.md shows.

The manifest is read from the docs themselves (the yaml block after "A
Kubernetes Indexed Job"), so the docs cannot drift from what is checked:

1. against the JSON schema of a pinned Kubernetes version, strictly (an
   unknown field is an error), with kubernetes-validate's bundled schemas;
2. for what those schemas leave out (they carry no enums): completionMode is
   Indexed, restartPolicy one a Job accepts, and completions, parallelism,
   the `--shard .../N` in the command and the README's summary of the Job
   all say the same N.

Then deliberately broken copies must each be rejected, so that a check that
accepts anything cannot pass. Run by scripts/k8s-check.sh (which makes the
virtualenv); exits 1 on any failure.
"""

import re
import sys
from pathlib import Path

import kubernetes_validate
import yaml

KUBERNETES_VERSION = "1.33.0"
ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "experiments.md"
README = ROOT / "README.md"


def extract(path, heading):
    """The first ```yaml block after the line starting with heading."""
    lines = path.read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(heading)), None)
    if start is None:
        raise SystemExit(f"{path}: no line starting with {heading!r}")
    try:
        begin = next(i for i in range(start, len(lines)) if lines[i] == "```yaml") + 1
        end = next(i for i in range(begin, len(lines)) if lines[i] == "```")
    except StopIteration:
        raise SystemExit(f"{path}: no closed yaml block after {heading!r}")
    return "\n".join(lines[begin:end]) + "\n"


def problems(text):
    """Everything wrong with one manifest's text (empty: it holds)."""
    try:
        job = yaml.safe_load(text)
    except yaml.YAMLError as e:
        return [f"not YAML: {e}"]
    if not isinstance(job, dict):
        return ["not a YAML mapping"]
    try:
        kubernetes_validate.validate(job, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        where = ".".join(str(p) for p in e.path) or "(top)"
        return [f"schema (Kubernetes {KUBERNETES_VERSION}, strict): {where}: {e.message}"]
    except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError) as e:
        return [f"schema (Kubernetes {KUBERNETES_VERSION}): {e.message}"]
    found = []
    if (job.get("apiVersion"), job.get("kind")) != ("batch/v1", "Job"):
        found.append(f"not a batch/v1 Job: {job.get('apiVersion')} {job.get('kind')}")
    spec = job.get("spec") or {}
    if spec.get("completionMode") != "Indexed":
        found.append(f"completionMode is {spec.get('completionMode')!r}, not 'Indexed'")
    pod = (spec.get("template") or {}).get("spec") or {}
    if pod.get("restartPolicy") not in ("OnFailure", "Never"):
        found.append(f"restartPolicy {pod.get('restartPolicy')!r}: a Job takes OnFailure or Never")
    n = spec.get("completions")
    if spec.get("parallelism") != n:
        found.append(f"parallelism {spec.get('parallelism')} differs from completions {n}")
    containers = pod.get("containers") or [{}]
    command = " ".join(containers[0].get("command", []) + containers[0].get("args", []))
    shard = re.search(r"--shard \$\(\(JOB_COMPLETION_INDEX \+ 1\)\)/(\d+)", command)
    if not shard:
        found.append("the command has no --shard $((JOB_COMPLETION_INDEX + 1))/N")
    elif int(shard.group(1)) != n:
        found.append(f"--shard .../{shard.group(1)} but completions {n}")
    return found


def readme_agrees(text):
    """The README's one-line summary of the Job names the same N."""
    job = yaml.safe_load(text)
    n = job["spec"]["completions"]
    readme = README.read_text()
    said = re.search(r"Indexed Job \(`completionMode: Indexed`, `completions: (\d+)`\)", readme)
    shard = re.search(r"--shard \$\(\(JOB_COMPLETION_INDEX \+ 1\)\)/(\d+)", readme)
    if not said or not shard:
        return ["README.md: no summary of the Indexed Job (completions and --shard) found"]
    if int(said.group(1)) != n or int(shard.group(1)) != n:
        return [f"README.md says completions {said.group(1)}, --shard .../{shard.group(1)}; the docs' Job {n}"]
    return []


def main():
    manifest = extract(DOCS, "A Kubernetes Indexed Job")
    passed = failed = 0

    found = problems(manifest) + readme_agrees(manifest)
    if found:
        failed += 1
        print("FAIL docs/experiments.md's Indexed Job:")
        for p in found:
            print(f"       {p}")
    else:
        passed += 1
        print(f"PASS docs/experiments.md's Indexed Job (Kubernetes {KUBERNETES_VERSION} schema, strict)")

    # Each broken copy must be rejected, for the reason given.
    broken = [
        ("completionMode: Wrong", "completionMode: Indexed", "completionMode: Wrong", "completionMode is 'Wrong'"),
        ("a misspelt field", "completionMode:", "completionMod:", "schema"),
        ("completions not a number", "completions: ", "completions: eight #", "schema"),
        ("an unknown apiVersion", "apiVersion: batch/v1", "apiVersion: batch/v9", "schema"),
        ("a container without a name", "- name: sweep", "- nam: sweep", "schema"),
        ("restartPolicy: Always", "restartPolicy: OnFailure", "restartPolicy: Always", "restartPolicy 'Always'"),
        ("fewer completions than shards", "completions: ", "completions: 3 #", "but completions 3"),
    ]
    for what, old, new, reason in broken:
        if old not in manifest:
            failed += 1
            print(f"FAIL broken copy ({what}): the manifest has no {old!r} to break")
            continue
        found = problems(manifest.replace(old, new, 1))
        why = [p for p in found if reason in p]
        if why:
            passed += 1
            print(f"PASS broken copy ({what}) rejected: {why[0]}")
        else:
            failed += 1
            print(f"FAIL broken copy ({what}) not rejected for {reason!r}: {found or 'accepted'}")

    print(f"k8s: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
