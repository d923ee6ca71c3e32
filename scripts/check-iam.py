#!/usr/bin/env python3
"""Checks each Lambda function's IAM role in template.yaml against the calls its handlers made
in the function tests (moto enforces no IAM, so nothing else would notice a missing grant).

The tests write one line per permission a call needs, `{"function", "action", "resource"}`
(tests/src/iam.rs: a transaction as the actions it contains, an SQS batch call as its
single-message action, resources as the template's logical ids, `Table/index` for indexes).
The roles are read after the SAM transform, so the policies SAM adds (the SQS poller's managed
policy, the on-failure destination's SendMessage) count as they would on AWS.

Fails when
- a call is not allowed by its function's role, or
- a statement written in template.yaml grants an action on a resource its function never used
  (least privilege), or
- a function made no recorded call at all (the function tests did not run), or
- a function's role cannot read what its event source mappings poll (the Lambda service reads a
  queue or a table's stream with the function's role; no test makes those calls).

Before checking, it proves it can fail: a copy of the template without ingest's PutItem,
and one granting deliver an action it never uses, must both be refused.

Usage: check-iam.py CALLS.jsonl
"""
import copy
import fnmatch
import importlib.util
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = {"api": "ApiFunction", "ingest": "IngestFunction", "deliver": "DeliverFunction", "maintain": "MaintainFunction"}

# AWS managed policies SAM attaches, as AWS publishes them (they are not in the template).
MANAGED = {
    "AWSLambdaBasicExecutionRole": [
        {"Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}],
    "AWSLambdaDynamoDBExecutionRole": [
        {"Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams",
                    "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}],
    "AWSLambdaSQSQueueExecutionRole": [
        {"Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                    "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}],
}


def load_script(file: str, name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def as_list(value):
    return value if isinstance(value, list) else [value]


def logical_resource(expression) -> str:
    """`*`, or the logical id a Resource expression names (`Table/index` for `${Table.Arn}/index/*`)."""
    if expression == "*":
        return "*"
    text = json.dumps(expression)
    match = re.search(r'"Fn::GetAtt": \["(\w+)"', text) or re.search(r"\$\{(\w+)\.Arn\}", text)
    if not match:
        return f"unreadable resource {text}"
    return f"{match.group(1)}/index" if "/index/" in text else match.group(1)


def grants(statements) -> set:
    """(action pattern, logical resource) for every Allow statement."""
    allowed = set()
    for statement in statements:
        if statement.get("Effect", "Allow") != "Allow":
            continue
        for action in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                allowed.add((action, logical_resource(resource)))
    return allowed


def role_grants(translated: dict, function: str) -> set:
    role = translated["Resources"][f"{FUNCTIONS[function]}Role"]["Properties"]
    statements = [s for policy in role.get("Policies", []) for s in as_list(policy["PolicyDocument"]["Statement"])]
    for arn in role.get("ManagedPolicyArns", []):
        name = arn.rsplit("/", 1)[-1]
        if name not in MANAGED:
            sys.exit(f"{FUNCTIONS[function]}Role has managed policy {arn}, whose actions this check does not know")
        statements += [dict(s, Effect="Allow") for s in MANAGED[name]]
    return grants(statements)


def written_grants(template: dict, function: str) -> set:
    """What template.yaml itself grants the function (not what SAM adds for event sources)."""
    policies = template["Resources"][FUNCTIONS[function]]["Properties"].get("Policies", [])
    return grants(s for policy in as_list(policies) if isinstance(policy, dict) for s in as_list(policy.get("Statement", [])))


def allows(allowed: set, action: str, resource: str) -> bool:
    return any(fnmatch.fnmatchcase(action, pattern) and granted in ("*", resource) for pattern, granted in allowed)


def problems(template: dict, translate, calls: list) -> list:
    translated = translate(template)
    found = []
    for function in FUNCTIONS:
        made = {(c["action"], c["resource"]) for c in calls if c["function"] == function}
        if not made:
            found.append(f"{function}: no calls were recorded (did the function tests run?)")
            continue
        allowed = role_grants(translated, function)
        for action, resource in sorted(made):
            if not allows(allowed, action, resource):
                found.append(f"{function}: calls {action} on {resource}, which its role does not allow")
        for action, resource in sorted(written_grants(template, function)):
            if not any(fnmatch.fnmatchcase(a, action) and r == resource for a, r in made):
                found.append(f"{function}: template.yaml grants {action} on {resource}, which it never uses")
    return found


# What the Lambda service calls with a function's role to poll an event source mapping.
POLLING = {
    "StreamArn": ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"],
    "Arn": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
}


def polling_problems(translated: dict) -> list:
    """Every event source mapping's function may read its source."""
    found = []
    by_logical_id = {logical: name for name, logical in FUNCTIONS.items()}
    for mapping in translated["Resources"].values():
        if mapping["Type"] != "AWS::Lambda::EventSourceMapping":
            continue
        properties = mapping["Properties"]
        function = by_logical_id.get(properties["FunctionName"].get("Ref", ""))
        source = properties["EventSourceArn"].get("Fn::GetAtt", ["", ""])
        if function is None or source[1] not in POLLING:
            found.append(f"an event source mapping this check cannot read: {properties}")
            continue
        allowed = role_grants(translated, function)
        for action in POLLING[source[1]]:
            if not allows(allowed, action, source[0]):
                found.append(f"{function}: its event source {source[0]}.{source[1]} needs {action}, which its role does not allow")
    return found


def without_action(template: dict, function: str, action: str) -> dict:
    changed = copy.deepcopy(template)
    for statement in changed["Resources"][FUNCTIONS[function]]["Properties"]["Policies"][0]["Statement"]:
        statement["Action"] = [a for a in as_list(statement["Action"]) if a != action]
    return changed


def with_extra_action(template: dict, function: str, action: str) -> dict:
    changed = copy.deepcopy(template)
    statement = changed["Resources"][FUNCTIONS[function]]["Properties"]["Policies"][0]["Statement"][0]
    statement["Action"] = as_list(statement["Action"]) + [action]
    return changed


def main() -> None:
    lint = load_script("lint-template.py", "lint_template")
    path = Path(sys.argv[1])
    calls = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
    template = lint.load_template()
    missing = problems(without_action(template, "ingest", "dynamodb:PutItem"), lint.translate, calls)
    unused = problems(with_extra_action(template, "deliver", "dynamodb:Scan"), lint.translate, calls)
    if not any("PutItem" in p for p in missing) or not any("Scan" in p for p in unused):
        sys.exit(f"check-iam.py could not tell a missing or an unused grant: {missing} {unused}")
    translated = lint.translate(template)
    unreadable = copy.deepcopy(translated)
    unreadable["Resources"]["IngestFunctionRole"]["Properties"]["ManagedPolicyArns"] = []
    if not any("GetRecords" in p for p in polling_problems(unreadable)):
        sys.exit("check-iam.py could not tell that ingest cannot read the table's stream")
    found = problems(template, lint.translate, calls) + polling_problems(translated)
    if found:
        sys.exit("template.yaml's IAM policies do not match what the functions call:\n  " + "\n  ".join(found))
    mappings = sum(r["Type"] == "AWS::Lambda::EventSourceMapping" for r in translated["Resources"].values())
    print(f"IAM: every call of the {len(FUNCTIONS)} functions is allowed, every written grant is used "
          f"({len(calls)} permissions recorded), and each of the {mappings} event source mappings can read its source")


if __name__ == "__main__":
    main()
