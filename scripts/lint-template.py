#!/usr/bin/env python3
"""Checks template.yaml offline: cfn-lint as written, then the SAM transform (aws-sam-translator)
and cfn-lint again on its output, since cfn-lint alone no longer looks inside SAM resources."""
import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from cfnlint.decode import decode_str
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


class NoManagedPolicies(ManagedPolicyLoader):
    """The template names no AWS managed policies, so none need looking up (no network)."""

    def __init__(self):
        pass

    def load(self):
        return {}


def cfn_lint(path: Path) -> None:
    cfn_lint_command = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run([str(cfn_lint_command), "--", str(path)], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"cfn-lint found problems in {path.name}:\n{result.stdout}{result.stderr}")


def load_template() -> dict:
    """template.yaml as CloudFormation reads it (intrinsic functions as `Fn::…` objects)."""
    template, matches = decode_str(TEMPLATE.read_text())
    if matches:
        sys.exit(f"template.yaml does not parse: {matches}")
    return template


def translate(template: dict) -> dict:
    """The template after the SAM transform, as CloudFormation deploys it, offline."""
    # The transform fills in pseudo parameters; no credentials or network are needed.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    # It warns on exit that its usage metrics were never published (there is nowhere to).
    logging.getLogger("samtranslator.metrics").setLevel(logging.ERROR)
    template = json.loads(json.dumps(template, default=str))
    # `sam package` replaces each local CodeUri with the uploaded artifact; do the same offline.
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://hookline-artifacts/function.zip"
    return transform(template, {"AWS::Region": "us-east-1"}, NoManagedPolicies())


def main() -> None:
    cfn_lint(TEMPLATE)
    translated = translate(load_template())
    with tempfile.TemporaryDirectory() as directory:
        output = Path(directory) / "translated.json"
        output.write_text(json.dumps(translated, indent=1, default=str))
        cfn_lint(output)
    print("template.yaml: cfn-lint clean as written and after the SAM transform")


if __name__ == "__main__":
    main()
