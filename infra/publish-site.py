#!/usr/bin/env python3
"""Publishes the web app of a deployed MediChain stack.

Reads the stack's outputs, writes the site's runtime `config.json` for this deployment (same-origin
API, the Jitsi host, the Cognito hosted UI and app client), uploads `static-site/` to the site
bucket with cache headers, removes what is no longer in the site, and invalidates CloudFront.
Run it after every `sam deploy` that changes the site or its settings (docs/operations.md).

    infra/publish-site.py STACK_NAME [--region REGION] [--profile PROFILE]
    infra/publish-site.py STACK_NAME --dry-run            # print the plan, change nothing
    infra/publish-site.py --outputs-json outputs.json --dry-run --stage-dir DIR
                                                          # offline: outputs from a file

Only the Python standard library and the AWS CLI (`aws`) are needed.
"""

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "static-site"

# The site's own tooling sits next to its pages but is not part of the site (the local server
# refuses to serve it too).
EXCLUDED_TOP_LEVEL = {"tests", "node_modules", "package.json", "package-lock.json"}

# Pages, the runtime config, scripts and styles are revalidated on every load (an ETag makes that
# a 304): their names carry no content hash, so a long max-age could mix a new page with old
# modules. Other files (icons, images, fonts) change rarely and are kept for a week.
NO_CACHE = "no-cache"
LONG = "public, max-age=604800"
REVALIDATED_SUFFIXES = {".html", ".json", ".js", ".mjs", ".css", ".webmanifest"}

OUTPUTS_USED = ["SiteUrl", "UserPoolClientId", "AuthDomain", "JitsiDomain", "SiteBucketName", "DistributionId"]


def fail(message):
    print(f"publish-site: {message}", file=sys.stderr)
    sys.exit(1)


def aws(args, region, profile, capture=True):
    cmd = ["aws", *args]
    if region:
        cmd += ["--region", region]
    if profile:
        cmd += ["--profile", profile]
    try:
        done = subprocess.run(cmd, check=True, text=True, capture_output=capture)
    except FileNotFoundError:
        fail("the AWS CLI (`aws`) is not installed")
    except subprocess.CalledProcessError as e:
        fail(f"{' '.join(cmd)} failed:\n{e.stderr or ''}")
    return done.stdout if capture else ""


def stack_outputs(stack, region, profile):
    raw = aws(
        ["cloudformation", "describe-stacks", "--stack-name", stack, "--query", "Stacks[0].Outputs", "--output", "json"],
        region,
        profile,
    )
    return {o["OutputKey"]: o["OutputValue"] for o in json.loads(raw) or []}


def runtime_config(outputs):
    """The site's config.json: the API on the same origin (CloudFront routes /api/*)."""
    missing = [k for k in OUTPUTS_USED if not outputs.get(k)]
    if missing:
        fail(f"the stack has no output {', '.join(missing)} (is it a MediChain stack, fully deployed?)")
    site = outputs["SiteUrl"].rstrip("/")
    return {
        "api_base": "",
        "jitsi_domain": outputs["JitsiDomain"],
        "auth": {
            "mode": "cognito",
            "domain": outputs["AuthDomain"],
            "client_id": outputs["UserPoolClientId"],
            # The Cognito app client allows exactly these (template.yaml, UserPoolClient).
            "redirect_uri": f"{site}/",
            "logout_uri": f"{site}/",
        },
    }


def stage(site_dir, stage_dir, config):
    """Copies the publishable files and writes config.json; returns their relative paths."""
    if stage_dir.exists():
        shutil.rmtree(stage_dir)
    shutil.copytree(site_dir, stage_dir, ignore=lambda d, names: EXCLUDED_TOP_LEVEL & set(names) if Path(d) == site_dir else set())
    (stage_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    files = sorted(p.relative_to(stage_dir).as_posix() for p in stage_dir.rglob("*") if p.is_file())
    if "index.html" not in files or "video.html" not in files:
        fail(f"{site_dir} does not look like the site (no index.html or video.html)")
    return files


def cache_control(path):
    return NO_CACHE if Path(path).suffix in REVALIDATED_SUFFIXES else LONG


def plan(stage_dir, bucket, distribution):
    """The AWS CLI calls, in order: long-lived files first, then the revalidated ones (so a new
    page never points at a file not yet uploaded), then deletions, then the invalidation."""
    target = f"s3://{bucket}"
    revalidated = [f"--include=*{s}" for s in sorted(REVALIDATED_SUFFIXES)]
    return [
        ["s3", "sync", str(stage_dir), target, "--no-progress",
         *[f"--exclude=*{s}" for s in sorted(REVALIDATED_SUFFIXES)], f"--cache-control={LONG}"],
        ["s3", "sync", str(stage_dir), target, "--no-progress", "--exclude=*", *revalidated,
         f"--cache-control={NO_CACHE}"],
        ["s3", "sync", str(stage_dir), target, "--no-progress", "--delete"],
        ["cloudfront", "create-invalidation", "--distribution-id", distribution, "--paths", "/*"],
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stack", nargs="?", help="the stack name (as deployed with sam deploy)")
    parser.add_argument("--region")
    parser.add_argument("--profile")
    parser.add_argument("--outputs-json", type=Path, help="stack outputs as a JSON object (offline use)")
    parser.add_argument("--site-dir", type=Path, default=SITE)
    parser.add_argument("--stage-dir", type=Path, help="where to assemble the upload (default: a temporary directory)")
    parser.add_argument("--dry-run", action="store_true", help="print config.json and the AWS calls, change nothing")
    args = parser.parse_args()

    if args.outputs_json:
        outputs = json.loads(args.outputs_json.read_text())
    elif args.stack:
        outputs = stack_outputs(args.stack, args.region, args.profile)
    else:
        parser.error("give the stack name (or --outputs-json)")

    config = runtime_config(outputs)
    temporary = None
    stage_dir = args.stage_dir
    if stage_dir is None:
        temporary = tempfile.mkdtemp(prefix="medichain-site-")
        stage_dir = Path(temporary) / "site"
    try:
        files = stage(args.site_dir.resolve(), stage_dir, config)
        calls = plan(stage_dir, outputs["SiteBucketName"], outputs["DistributionId"])
        print(json.dumps({"config": config, "files": {f: cache_control(f) for f in files}}, indent=2))
        for call in calls:
            print(shlex.join(["aws", *call]), flush=True)
            if not args.dry_run:
                aws(call, args.region, args.profile, capture=False)
        if not args.dry_run:
            print(f"published {len(files)} files; the site is {outputs['SiteUrl']}")
    finally:
        if temporary:
            shutil.rmtree(temporary, ignore_errors=True)


if __name__ == "__main__":
    main()
