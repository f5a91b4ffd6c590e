"""`make image`: build the code-location image where a Docker engine answers, else say why not.

    make image                                         build kairoo-platform:<git sha> locally
    make image IMAGE_REPOSITORY=<ecr url> IMAGE_PUSH=1 build, push, and record the registry digest in
                                                       deploy/.generated/image.txt for deploy/release.py

A digest exists only once a registry holds the image (RepoDigests), which is why the release is
pinned from the pushed image and never from a local build or a tag. Without an engine (a machine with
only the Docker client, like the development machines) it prints the reason and exits 0: the image is
built by the networked CI step (deploy/README.md).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from deploy.release import GENERATED_DIR, parse_image_ref

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO_ROOT / "deploy" / "Dockerfile"


def docker_engine() -> tuple[bool, str]:
    """Whether a Docker engine answers, and if not the reason (client missing, daemon unreachable)."""
    try:
        done = subprocess.run(
            ["docker", "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except FileNotFoundError:
        return False, "no docker client on PATH"
    except subprocess.TimeoutExpired:
        return False, "the Docker engine did not answer `docker version` within 30 s"
    if done.returncode != 0 or not done.stdout.strip():
        detail = (done.stderr.strip().splitlines() or ["no server version reported"])[-1]
        return False, f"no Docker engine answers (docker version: {detail})"
    return True, f"Docker engine {done.stdout.strip()}"


def git_revision() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def _run(command: list[str]) -> None:
    print("+", " ".join(command), flush=True)
    subprocess.run(command, cwd=REPO_ROOT, check=True)


def build(repository: str, push: bool, python_image: str | None) -> int:
    tag = f"{repository}:{git_revision()}"
    command = ["docker", "build", "-f", str(DOCKERFILE), "-t", tag]
    if python_image:
        command += ["--build-arg", f"PYTHON_IMAGE={python_image}"]
    _run([*command, str(REPO_ROOT)])
    if not push:
        print(f"built {tag}; not pushed, so no registry digest and no release overlay (IMAGE_PUSH=1)")
        return 0
    _run(["docker", "push", tag])
    digests = subprocess.run(
        ["docker", "inspect", "--format", "{{range .RepoDigests}}{{println .}}{{end}}", tag],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    ours = [d for d in digests if d.startswith(f"{repository}@")]
    if len(ours) != 1:
        print(f"make image: pushed {tag}, but found {len(ours)} digests for {repository}", file=sys.stderr)
        return 1
    image = parse_image_ref(ours[0])
    GENERATED_DIR.mkdir(parents=True, exist_ok=True)
    (GENERATED_DIR / "image.txt").write_text(image.reference + "\n")
    print(f"pushed {image.reference} (deploy/.generated/image.txt)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repository", default="kairoo-platform")
    parser.add_argument("--push", action="store_true")
    parser.add_argument("--python-image", default="", help="base image, pinned by digest in CI")
    args = parser.parse_args(argv)
    available, reason = docker_engine()
    if not available:
        print(f"make image: skipped: {reason}. The networked CI step builds it (deploy/README.md).")
        return 0
    print(f"make image: {reason}")
    return build(args.repository, args.push, args.python_image or None)


if __name__ == "__main__":
    sys.exit(main())
