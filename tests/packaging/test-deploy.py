#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks worker/deploy/: the CloudFormation template (parsed with python3-yaml, its
intrinsic functions as tagged nodes) for what docs/packaging.md says it deploys, and the
IAM policies (policies/*.json, and the same policies inline in the template) for least
privilege: every (action, resource) pair a policy allows is one its role needs, and the
pairs each role needs are there. The tasks' credentials: no IAM user, access key or
secret holding one; each task definition has a task role trusted by ECS tasks alone and
holding its kind's policy alone; the scheduler passes exactly the roles of the tasks it
starts. Then it checks itself: known-bad variants of the policies and the template must
be refused.

    test-deploy.py DEPLOY_DIR        (TAP on stdout)
"""
import copy
import fnmatch
import json
import os
import re
import sys

import yaml

# ---------------------------------------------------------------------------------------
# Loading

class Fn:
    """An intrinsic function: !Ref X, !Sub "…", !GetAtt A.B …"""

    def __init__(self, name, value):
        self.name = name
        self.value = value

    def __eq__(self, other):
        return isinstance(other, Fn) and (self.name, self.value) == (other.name, other.value)

    def __repr__(self):
        return f"!{self.name} {self.value!r}"


FUNCTIONS = ["Ref", "Sub", "GetAtt", "Join", "Select", "Split", "If", "Equals", "Not", "And",
             "Or", "FindInMap", "Base64", "GetAZs", "ImportValue", "Condition", "Cidr"]


class Loader(yaml.SafeLoader):
    pass


def _constructor(name):
    def construct(loader, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if name == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return Fn(name, value)
    return construct


for _name in FUNCTIONS:
    Loader.add_constructor("!" + _name, _constructor(_name))


def load_template(path):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=Loader)


def plain(node):
    """The template's policy as the JSON files write it: !Sub strings as their text,
    single actions and resources as they are."""
    if isinstance(node, Fn):
        if node.name == "Sub" and isinstance(node.value, str):
            return node.value
        raise ValueError(f"unexpected {node!r} in a policy")
    if isinstance(node, dict):
        return {k: plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    return node


def as_list(value):
    return value if isinstance(value, list) else [value]


# ---------------------------------------------------------------------------------------
# The roles' needs

BUCKET = "arn:${AWS::Partition}:s3:::${AssayBucket}"
JOBS = "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${JobsTable}"
RESULTS = "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${ResultsTable}"
INDEX = JOBS + "/index/queue-due"

# What each policy may allow: (action, resource) pairs; a resource of the policy must be
# one of these exactly (no wider wildcard). And what it must allow to do its work.
ALLOWED = {
    "client": {
        ("s3:PutObject", BUCKET + "/file-*"),
        ("s3:ListBucket", BUCKET),
        ("s3:GetObject", BUCKET + "/results/*"),
        ("dynamodb:PutItem", JOBS),
        ("dynamodb:UpdateItem", JOBS),
        ("dynamodb:GetItem", JOBS),
        ("dynamodb:GetItem", RESULTS),
    },
    "processor": {
        ("s3:GetObject", BUCKET + "/file-*"),
        ("s3:DeleteObject", BUCKET + "/file-*"),
        ("s3:ListBucket", BUCKET),
        ("s3:PutObject", BUCKET + "/results/*"),
        ("s3:DeleteObject", BUCKET + "/results/*"),
        ("s3:GetObject", BUCKET + "/defs/*"),
        ("s3:PutObject", BUCKET + "/quarantine/*"),
        ("s3:PutObject", BUCKET + "/archive/incoming/*"),
        ("s3:GetObject", BUCKET + "/archive/incoming/*"),
        ("s3:DeleteObject", BUCKET + "/archive/incoming/*"),
        ("s3:PutObject", BUCKET + "/archive/valid/*"),
        ("s3:PutObject", BUCKET + "/archive/invalid/*"),
        ("dynamodb:Query", INDEX),
        ("dynamodb:GetItem", JOBS),
        ("dynamodb:UpdateItem", JOBS),
        ("dynamodb:PutItem", RESULTS),
        ("dynamodb:DeleteItem", RESULTS),
    },
    "monitor": {
        ("dynamodb:Query", INDEX),
    },
    "defs-publisher": {
        ("s3:ListBucket", BUCKET),
        ("s3:PutObject", BUCKET + "/defs/*"),
        ("s3:DeleteObject", BUCKET + "/defs/*"),
    },
    "archiver": {
        ("s3:ListBucket", BUCKET),
        ("s3:GetObject", BUCKET + "/archive/*"),
        ("s3:PutObject", BUCKET + "/archive/*"),
        ("s3:DeleteObject", BUCKET + "/archive/*"),
    },
}
REQUIRED = {
    "client": ALLOWED["client"],
    "processor": {p for p in ALLOWED["processor"] if "/archive/" not in p[1]},
    "monitor": ALLOWED["monitor"],
    "defs-publisher": ALLOWED["defs-publisher"],
    "archiver": ALLOWED["archiver"],
}
# A ListBucket must be narrowed to a prefix, except where the role reads objects that may
# be missing: S3 answers 404, not 403, for a missing object only to a principal that may
# list the bucket (the processor's chunks, the archiver's zip of the day).
LIST_PREFIX = {"client": "file-*/", "defs-publisher": "defs/*"}
# Item writes are narrowed to the attributes the role writes.
CLIENT_JOB_ATTRIBUTES = {"id", "version", "created", "bucket", "region", "file", "client",
                         "signature", "status", "chunks", "queue", "due", "uploaded", "error"}
PROCESSOR_JOB_ATTRIBUTES = {"id", "status", "processor", "assigned", "lease", "attempts",
                            "queue", "due", "downloaded", "result", "error"}
RESULT_ATTRIBUTES = {"id", "client", "job", "created", "payload", "payload_object"}


def policy_problems(role, policy):
    """What is wrong with @policy for @role: a list of sentences, empty when nothing."""
    problems = []
    if policy.get("Version") != "2012-10-17":
        problems.append("Version is not 2012-10-17")
    pairs = set()
    sids = set()
    for st in policy.get("Statement", []):
        sid = st.get("Sid")
        if not sid or sid in sids:
            problems.append(f"a statement without a Sid of its own: {st}")
        sids.add(sid)
        if st.get("Effect") != "Allow":
            problems.append(f"{sid}: Effect is not Allow")
        if "NotAction" in st or "NotResource" in st or "Principal" in st:
            problems.append(f"{sid}: NotAction, NotResource or Principal in an identity policy")
        actions = as_list(st.get("Action", []))
        resources = as_list(st.get("Resource", []))
        for a in actions:
            if "*" in a or "?" in a:
                problems.append(f"{sid}: wildcard action {a}")
        for r in resources:
            if r == "*":
                problems.append(f"{sid}: resource *")
        for a in actions:
            for r in resources:
                pairs.add((a, r))
                if (a, r) not in ALLOWED[role]:
                    problems.append(f"{sid}: {role} may not have {a} on {r}")
        cond = st.get("Condition", {})
        if "s3:ListBucket" in actions and role in LIST_PREFIX:
            prefix = cond.get("StringLike", {}).get("s3:prefix")
            if prefix != LIST_PREFIX[role]:
                problems.append(f"{sid}: ListBucket not narrowed to s3:prefix {LIST_PREFIX[role]}")
        writes = {"dynamodb:PutItem", "dynamodb:UpdateItem"} & set(actions)
        if writes:
            attrs = cond.get("ForAllValues:StringEquals", {}).get("dynamodb:Attributes")
            if role == "client":
                expected = CLIENT_JOB_ATTRIBUTES
            elif JOBS in resources:
                expected = PROCESSOR_JOB_ATTRIBUTES
            else:
                expected = RESULT_ATTRIBUTES
            if attrs is None or set(attrs) != expected:
                problems.append(f"{sid}: item writes not narrowed to the attributes "
                                f"{sorted(expected)}: {attrs}")
    for pair in sorted(REQUIRED[role] - pairs):
        problems.append(f"{role} lacks {pair[0]} on {pair[1]}, which it needs")
    return problems


# ---------------------------------------------------------------------------------------
# The template

PSEUDO = {"AWS::Partition", "AWS::Region", "AWS::AccountId", "AWS::StackName", "AWS::StackId",
          "AWS::URLSuffix", "AWS::NoValue", "AWS::NotificationARNs"}


def walk(node):
    yield node
    if isinstance(node, Fn):
        yield from walk(node.value)
    elif isinstance(node, dict):
        for v in node.values():
            yield from walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk(v)


def resources_of(template, type_name):
    return {k: v for k, v in template.get("Resources", {}).items() if v.get("Type") == type_name}


def template_problems(template):
    problems = []
    params = template.get("Parameters", {})
    res = template.get("Resources", {})
    if template.get("AWSTemplateFormatVersion") != "2010-09-09":
        problems.append("AWSTemplateFormatVersion is not 2010-09-09")
    known = set(params) | set(res) | PSEUDO
    for name, r in res.items():
        if not isinstance(r, dict) or not isinstance(r.get("Type"), str) or "::" not in r["Type"]:
            problems.append(f"{name}: no Type")
    # every reference resolves
    for node in walk(template):
        if not isinstance(node, Fn):
            continue
        if node.name == "Ref" and node.value not in known:
            problems.append(f"!Ref {node.value}: no such parameter or resource")
        elif node.name == "GetAtt" and node.value[0] not in res:
            problems.append(f"!GetAtt {'.'.join(node.value)}: no such resource")
        elif node.name == "Sub":
            text = node.value if isinstance(node.value, str) else node.value[0]
            for ref in re.findall(r"\$\{([^}!]+)\}", text):
                if ref.split(".")[0] not in known:
                    problems.append(f"!Sub ${{{ref}}}: no such parameter or resource")

    # the bucket
    buckets = resources_of(template, "AWS::S3::Bucket")
    if len(buckets) != 1:
        problems.append(f"{len(buckets)} buckets, not one")
    for name, b in buckets.items():
        p = b.get("Properties", {})
        enc = p.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
        if not enc or enc[0].get("ServerSideEncryptionByDefault", {}).get("SSEAlgorithm") not in (
                "AES256", "aws:kms", "aws:kms:dsse"):
            problems.append(f"{name}: no default encryption")
        pab = p.get("PublicAccessBlockConfiguration", {})
        for key in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls",
                    "RestrictPublicBuckets"):
            if pab.get(key) is not True:
                problems.append(f"{name}: public access not blocked ({key})")
        rules = p.get("LifecycleConfiguration", {}).get("Rules", [])
        chunk_rules = [r for r in rules if r.get("Status") == "Enabled" and
                       (r.get("Prefix") == "file-" or
                        r.get("Filter", {}).get("Prefix") == "file-")]
        if not chunk_rules or chunk_rules[0].get("ExpirationInDays") != Fn("Ref", "ChunkRetentionDays"):
            problems.append(f"{name}: no lifecycle rule expiring file-* after ChunkRetentionDays")
        if "ChunkRetentionDays" not in params:
            problems.append("no ChunkRetentionDays parameter")

    # the tables
    tables = resources_of(template, "AWS::DynamoDB::Table")
    keys = {}
    for name, t in tables.items():
        p = t.get("Properties", {})
        hash_keys = [k["AttributeName"] for k in p.get("KeySchema", []) if k.get("KeyType") == "HASH"]
        keys[name] = (hash_keys, p)
        if p.get("TimeToLiveSpecification") != {"AttributeName": "expires", "Enabled": True}:
            problems.append(f"{name}: no TTL on expires")
        if p.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled") is not True:
            problems.append(f"{name}: no point-in-time recovery")
        if hash_keys != ["id"] or len(p.get("KeySchema", [])) != 1:
            problems.append(f"{name}: the key is not the hash key id alone")
    if sorted(tables) != ["JobsTable", "ResultsTable"]:
        problems.append(f"tables {sorted(tables)}, not JobsTable and ResultsTable")
    jobs = tables.get("JobsTable", {}).get("Properties", {})
    gsi = [g for g in jobs.get("GlobalSecondaryIndexes", []) if g.get("IndexName") == "queue-due"]
    if not gsi or gsi[0].get("KeySchema") != [{"AttributeName": "queue", "KeyType": "HASH"},
                                               {"AttributeName": "due", "KeyType": "RANGE"}]:
        problems.append("JobsTable: no index queue-due (hash queue, range due)")
    defined = {a["AttributeName"]: a["AttributeType"] for a in jobs.get("AttributeDefinitions", [])}
    if defined != {"id": "S", "queue": "S", "due": "S"}:
        problems.append(f"JobsTable: attribute definitions {defined}")

    # the worker service: Fargate, scaled on the backlog metric down to zero
    services = resources_of(template, "AWS::ECS::Service")
    tasks = resources_of(template, "AWS::ECS::TaskDefinition")
    if len(services) != 1:
        problems.append(f"{len(services)} ECS services, not one")
    for name, s in services.items():
        p = s.get("Properties", {})
        if p.get("LaunchType") != "FARGATE":
            problems.append(f"{name}: not on Fargate")
        task = tasks.get(p.get("TaskDefinition", Fn("Ref", "")).value, {}).get("Properties", {})
        containers = task.get("ContainerDefinitions", [])
        if len(containers) != 1:
            problems.append(f"{name}: its task does not have one container")
        for c in containers:
            if c.get("PortMappings"):
                problems.append(f"{name}: the worker maps a port")
            if c.get("HealthCheck", {}).get("Command") != ["CMD", "assay-worker", "health"]:
                problems.append(f"{name}: no health check with assay-worker health")
            if c.get("Command"):
                problems.append(f"{name}: the worker's command is not the image's")
            if c.get("StopTimeout", 30) > 120:
                problems.append(f"{name}: StopTimeout above Fargate's 120 s")
    targets = resources_of(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    if len(targets) != 1 or list(targets.values())[0]["Properties"].get("MinCapacity") != 0:
        problems.append("no scalable target for the service with MinCapacity 0")
    filters = resources_of(template, "AWS::Logs::MetricFilter")
    metrics = {(f["Properties"]["MetricTransformations"][0]["MetricNamespace"],
                json.dumps(f["Properties"]["MetricTransformations"][0]["MetricName"], default=repr))
               for f in filters.values()
               if f["Properties"]["MetricTransformations"][0].get("MetricValue") == "$.claimable"}
    if not metrics:
        problems.append("no metric filter taking $.claimable (assay-worker backlog) as a metric")
    alarms = resources_of(template, "AWS::CloudWatch::Alarm")
    policies = resources_of(template, "AWS::ApplicationAutoScaling::ScalingPolicy")
    scaling = {"out": False, "in": False}
    for name, a in alarms.items():
        p = a["Properties"]
        if (p.get("Namespace"), json.dumps(p.get("MetricName"), default=repr)) not in metrics:
            continue
        for action in p.get("AlarmActions", []):
            pol = policies.get(action.value if isinstance(action, Fn) else "", {})
            steps = pol.get("Properties", {}).get("StepScalingPolicyConfiguration", {}).get(
                "StepAdjustments", [])
            if any(s.get("ScalingAdjustment", 0) > 0 for s in steps):
                scaling["out"] = True
            if any(s.get("ScalingAdjustment", 0) < 0 for s in steps):
                scaling["in"] = True
    if not all(scaling.values()):
        problems.append(f"the backlog metric's alarms do not scale both ways: {scaling}")

    # scheduled tasks: backlog, definitions, archive-compact
    rules = resources_of(template, "AWS::Events::Rule")
    scheduled = {}
    for name, r in rules.items():
        p = r["Properties"]
        if not p.get("ScheduleExpression"):
            continue
        for t in p.get("Targets", []):
            task_name = t.get("EcsParameters", {}).get("TaskDefinitionArn", Fn("Ref", "")).value
            c = tasks.get(task_name, {}).get("Properties", {}).get("ContainerDefinitions", [{}])[0]
            scheduled[task_name] = (c.get("Command"), c.get("Image"))
    commands = {json.dumps(v[0]) for v in scheduled.values()}
    if '["backlog"]' not in commands:
        problems.append("no scheduled task running assay-worker backlog")
    if '["archive-compact"]' not in commands:
        problems.append("no scheduled task running assay-worker archive-compact")
    if not any(v[1] == Fn("Ref", "DefsImage") for v in scheduled.values()):
        problems.append("no scheduled task running the definitions image")

    # nothing listens: no ingress rule anywhere
    for name, g in resources_of(template, "AWS::EC2::SecurityGroup").items():
        if g["Properties"].get("SecurityGroupIngress"):
            problems.append(f"{name}: an ingress rule")
    if resources_of(template, "AWS::EC2::SecurityGroupIngress"):
        problems.append("an ingress rule")

    # no role or user with a wildcard action
    for node in walk(res):
        if isinstance(node, dict) and "Action" in node and node.get("Effect") == "Allow":
            for a in as_list(node["Action"]):
                if isinstance(a, str) and a.endswith("*"):
                    problems.append(f"wildcard action {a} allowed in the template")

    problems += credentials_problems(template)
    return problems


# ---------------------------------------------------------------------------------------
# Credentials: each task runs with a task role (temporary credentials from the container
# credentials endpoint), never with a long-lived key.

# The policy each kind of task's role holds, and nothing else.
TASK_POLICY = {"processor": "ProcessorPolicy", "monitor": "MonitorPolicy",
               "defs-publisher": "DefsPublisherPolicy", "archiver": "ArchiverPolicy"}
EXECUTION_POLICY = Fn("Sub", "arn:${AWS::Partition}:iam::aws:policy/service-role/"
                             "AmazonECSTaskExecutionRolePolicy")
ECS_TASKS = "ecs-tasks.amazonaws.com"
KEY_VARIABLES = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}


def task_kind(name, task, service_tasks):
    """processor, monitor, defs-publisher or archiver: what @task runs."""
    c = (task.get("Properties", {}).get("ContainerDefinitions") or [{}])[0]
    if name in service_tasks:
        return "processor"
    if c.get("Command") == ["backlog"]:
        return "monitor"
    if c.get("Command") == ["archive-compact"]:
        return "archiver"
    if c.get("Image") == Fn("Ref", "DefsImage"):
        return "defs-publisher"
    return None


def role_name(node):
    """The resource an !GetAtt X.Arn names, else None."""
    if isinstance(node, Fn) and node.name == "GetAtt" and node.value[1:] == ["Arn"]:
        return node.value[0]
    return None


def trust_problems(name, role, conditions):
    """@role must be assumable by ECS tasks only; with @conditions, only by those of this
    account and region (aws:SourceAccount, aws:SourceArn)."""
    problems = []
    doc = role.get("Properties", {}).get("AssumeRolePolicyDocument", {})
    statements = doc.get("Statement", [])
    if not statements:
        problems.append(f"{name}: no trust policy")
    for st in statements:
        if st.get("Effect") != "Allow":
            continue
        principal = st.get("Principal")
        if (not isinstance(principal, dict) or list(principal) != ["Service"] or
                as_list(principal["Service"]) != [ECS_TASKS]):
            problems.append(f"{name}: trusts {principal}, not {ECS_TASKS} alone")
        if as_list(st.get("Action")) != ["sts:AssumeRole"]:
            problems.append(f"{name}: the trust allows {st.get('Action')}, not sts:AssumeRole")
        if "NotPrincipal" in st or "NotAction" in st:
            problems.append(f"{name}: NotPrincipal or NotAction in the trust")
        if not conditions:
            continue
        cond = st.get("Condition", {})
        if cond.get("StringEquals", {}).get("aws:SourceAccount") != Fn("Ref", "AWS::AccountId"):
            problems.append(f"{name}: the trust is not limited to aws:SourceAccount of this account")
        arn = cond.get("ArnLike", cond.get("ArnEquals", {})).get("aws:SourceArn")
        if arn != Fn("Sub", "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:*"):
            problems.append(f"{name}: the trust is not limited to aws:SourceArn of ECS in this "
                            f"account and region: {arn}")
    return problems


def credentials_problems(template):
    problems = []
    res = template.get("Resources", {})
    for type_name in ("AWS::IAM::User", "AWS::IAM::AccessKey", "AWS::IAM::Group"):
        for name in resources_of(template, type_name):
            problems.append(f"{name}: an {type_name}; the tasks use task roles, not keys")
    for name, s in resources_of(template, "AWS::SecretsManager::Secret").items():
        text = json.dumps(s, default=repr)
        if any(k in text for k in KEY_VARIABLES | {"SecretAccessKey"}):
            problems.append(f"{name}: a secret holding an access key")
    # nothing may read secrets: the tasks have none
    for node in walk(res):
        if isinstance(node, dict) and node.get("Effect") == "Allow" and "Action" in node:
            for a in as_list(node["Action"]):
                if isinstance(a, str) and a.startswith("secretsmanager:"):
                    problems.append(f"{a} allowed in the template; the tasks have no secrets")

    roles = resources_of(template, "AWS::IAM::Role")
    tasks = resources_of(template, "AWS::ECS::TaskDefinition")
    service_tasks = {s.get("Properties", {}).get("TaskDefinition", Fn("Ref", "")).value
                     for s in resources_of(template, "AWS::ECS::Service").values()}
    task_roles = {}          # task definition -> its task role
    execution_roles = {}     # task definition -> its execution role
    kinds = {}
    for name, t in tasks.items():
        p = t.get("Properties", {})
        for c in p.get("ContainerDefinitions", []):
            variables = {e.get("Name") for e in c.get("Environment", []) + c.get("Secrets", [])}
            if variables & KEY_VARIABLES:
                problems.append(f"{name}: {sorted(variables & KEY_VARIABLES)} given to the "
                                f"container; it takes the task role's credentials")
        kind = task_kind(name, t, service_tasks)
        kinds[name] = kind
        if kind is None:
            problems.append(f"{name}: a task definition of no known kind")
            continue
        role = role_name(p.get("TaskRoleArn"))
        if role not in roles:
            problems.append(f"{name}: no TaskRoleArn naming a role of the template")
            continue
        task_roles[name] = role
        rp = roles[role].get("Properties", {})
        problems += trust_problems(role, roles[role], conditions=True)
        if rp.get("ManagedPolicyArns") != [Fn("Ref", TASK_POLICY[kind])]:
            problems.append(f"{name}: its role {role} holds {rp.get('ManagedPolicyArns')}, "
                            f"not {TASK_POLICY[kind]} alone ({kind})")
        if rp.get("Policies"):
            problems.append(f"{name}: its role {role} has inline policies")
        execution = role_name(p.get("ExecutionRoleArn"))
        if execution not in roles:
            problems.append(f"{name}: no ExecutionRoleArn naming a role of the template")
            continue
        execution_roles[name] = execution
        if execution == role:
            problems.append(f"{name}: the task role is the execution role")
    for kind in TASK_POLICY:
        if kind not in kinds.values():
            problems.append(f"no {kind} task")
    by_role = {}
    for task, role in task_roles.items():
        by_role.setdefault(role, set()).add(kinds[task])
    for role, ks in by_role.items():
        if len(ks) > 1:
            problems.append(f"{role}: the role of several kinds of task {sorted(ks)}")
    for role in sorted(set(execution_roles.values())):
        rp = roles[role].get("Properties", {})
        problems += trust_problems(role, roles[role], conditions=False)
        if rp.get("ManagedPolicyArns") != [EXECUTION_POLICY]:
            problems.append(f"{role}: the execution role holds {rp.get('ManagedPolicyArns')}, "
                            f"not AmazonECSTaskExecutionRolePolicy alone")
        if rp.get("Policies"):
            problems.append(f"{role}: the execution role has inline policies")

    # The scheduler's role runs the scheduled task definitions and passes their roles,
    # those and no other; no other role passes roles.
    launched = {}            # role resource -> task definitions it launches
    for r in resources_of(template, "AWS::Events::Rule").values():
        for t in r.get("Properties", {}).get("Targets", []):
            task = t.get("EcsParameters", {}).get("TaskDefinitionArn", Fn("Ref", "")).value
            launched.setdefault(role_name(t.get("RoleArn")), set()).add(task)
    for name, role in roles.items():
        statements = [st for pol in role.get("Properties", {}).get("Policies", [])
                      for st in pol.get("PolicyDocument", {}).get("Statement", [])
                      if st.get("Effect") == "Allow"]
        passed = []
        run = []
        for st in statements:
            actions = as_list(st.get("Action", []))
            resources = as_list(st.get("Resource", []))
            if "iam:PassRole" in actions:
                passed += resources
                if (st.get("Condition", {}).get("StringEquals", {})
                        .get("iam:PassedToService") != ECS_TASKS):
                    problems.append(f"{name}: iam:PassRole not limited to iam:PassedToService "
                                    f"{ECS_TASKS}")
            if "ecs:RunTask" in actions:
                run += resources
                if (st.get("Condition", {}).get("ArnEquals", {}).get("ecs:cluster") !=
                        Fn("GetAtt", ["Cluster", "Arn"])):
                    problems.append(f"{name}: ecs:RunTask not limited to the cluster")
        if name not in launched:
            if passed or run:
                problems.append(f"{name}: passes roles or runs tasks, but starts no scheduled task")
            continue
        wanted = launched[name]
        if any(not isinstance(r, Fn) or r.name != "Ref" for r in run) or \
                {r.value for r in run if isinstance(r, Fn)} != wanted:
            problems.append(f"{name}: ecs:RunTask on {run}, not on {sorted(wanted)} exactly")
        needed = ({task_roles.get(t) for t in wanted} | {execution_roles.get(t) for t in wanted}) - {None}
        names = [role_name(r) for r in passed]
        if None in names or set(names) != needed or len(names) != len(set(names)):
            problems.append(f"{name}: iam:PassRole on {passed}, not on the roles of the tasks "
                            f"it starts {sorted(needed)} exactly")
    return problems


TEMPLATE_POLICIES = {"ClientPolicy": "client", "ProcessorPolicy": "processor",
                     "MonitorPolicy": "monitor", "DefsPublisherPolicy": "defs-publisher",
                     "ArchiverPolicy": "archiver"}

# ---------------------------------------------------------------------------------------
# TAP

n = 0
failed = False


def report(description, problems):
    global n, failed
    n += 1
    if problems:
        failed = True
        print(f"not ok {n} - {description}")
        for p in problems:
            print(f"# {p}")
    else:
        print(f"ok {n} - {description}")


def main():
    deploy = sys.argv[1]
    policy_dir = os.path.join(deploy, "policies")
    files = {}
    for name in sorted(os.listdir(policy_dir)):
        if name.endswith(".json"):
            try:
                with open(os.path.join(policy_dir, name), encoding="utf-8") as f:
                    files[name[:-5]] = json.load(f)
                report(f"policies/{name} is JSON", [])
            except ValueError as e:
                report(f"policies/{name} is JSON", [str(e)])
    report("a policy file for each role",
           [] if sorted(files) == sorted(ALLOWED) else [f"files: {sorted(files)}"])
    for role, policy in files.items():
        if role in ALLOWED:
            report(f"policies/{role}.json is least privilege for the {role}",
                   policy_problems(role, policy))

    try:
        template = load_template(os.path.join(deploy, "assay.yaml"))
        report("assay.yaml is YAML with CloudFormation's functions", [])
    except yaml.YAMLError as e:
        report("assay.yaml is YAML with CloudFormation's functions", [str(e)])
        print(f"1..{n}")
        return 1
    report("assay.yaml deploys what docs/packaging.md says", template_problems(template))
    for resource, role in TEMPLATE_POLICIES.items():
        doc = template["Resources"].get(resource, {}).get("Properties", {}).get("PolicyDocument")
        problems = []
        if doc is None:
            problems.append(f"no {resource}")
        elif plain(doc) != files.get(role):
            problems.append(f"{resource} differs from policies/{role}.json")
        report(f"the template's {resource} is policies/{role}.json", problems)

    # The checks catch what they are for: each variant below must be refused.
    def mutant(role, change):
        p = copy.deepcopy(files[role])
        change(p["Statement"])
        return policy_problems(role, p)

    def add(statement):
        return lambda sts: sts.append(statement)

    mutants = [
        ("client reads chunks", "client", add({"Sid": "X", "Effect": "Allow", "Action": "s3:GetObject",
                                               "Resource": BUCKET + "/file-*"})),
        ("client deletes chunks", "client", add({"Sid": "X", "Effect": "Allow",
                                                 "Action": "s3:DeleteObject",
                                                 "Resource": BUCKET + "/*"})),
        ("client writes results", "client", add({"Sid": "X", "Effect": "Allow",
                                                 "Action": "dynamodb:PutItem", "Resource": RESULTS})),
        ("client lists the whole bucket", "client",
         lambda sts: [st.pop("Condition") for st in sts if st["Action"] == "s3:ListBucket"]),
        ("client sets any job attribute", "client",
         lambda sts: [st["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"].append("processor")
                      for st in sts if "Condition" in st and "dynamodb:Attributes" in
                      str(st["Condition"])]),
        ("processor with s3:*", "processor", add({"Sid": "X", "Effect": "Allow", "Action": "s3:*",
                                                  "Resource": BUCKET + "/file-*"})),
        ("processor creates jobs", "processor", add({"Sid": "X", "Effect": "Allow",
                                                     "Action": "dynamodb:PutItem",
                                                     "Resource": JOBS})),
        ("processor on every table", "processor", add({"Sid": "X", "Effect": "Allow",
                                                       "Action": "dynamodb:GetItem",
                                                       "Resource": "*"})),
        ("processor without chunk reads", "processor",
         lambda sts: sts.remove(next(st for st in sts if st["Sid"] == "ReadAndDeleteChunks"))),
        ("processor scans the jobs", "processor", add({"Sid": "X", "Effect": "Allow",
                                                       "Action": "dynamodb:Scan", "Resource": JOBS})),
        ("archiver reads chunks", "archiver", add({"Sid": "X", "Effect": "Allow",
                                                   "Action": "s3:GetObject",
                                                   "Resource": BUCKET + "/*"})),
        ("publisher reads chunks", "defs-publisher", add({"Sid": "X", "Effect": "Allow",
                                                          "Action": "s3:GetObject",
                                                          "Resource": BUCKET + "/file-*"})),
        ("publisher lists everything", "defs-publisher",
         lambda sts: [st.pop("Condition") for st in sts if st["Action"] == "s3:ListBucket"]),
    ]
    missed = [what for what, role, change in mutants if not mutant(role, change)]
    report(f"the policy checks refuse {len(mutants)} known-bad policies", 
           [f"not refused: {m}" for m in missed])

    def tmutant(change):
        t = copy.deepcopy(template)
        change(t["Resources"])
        return template_problems(t)

    tmutants = [
        ("public bucket", lambda r: r["AssayBucket"]["Properties"]["PublicAccessBlockConfiguration"]
         .update(BlockPublicPolicy=False)),
        ("no lifecycle", lambda r: r["AssayBucket"]["Properties"].pop("LifecycleConfiguration")),
        ("no TTL", lambda r: r["ResultsTable"]["Properties"].pop("TimeToLiveSpecification")),
        ("no PITR", lambda r: r["JobsTable"]["Properties"].pop("PointInTimeRecoverySpecification")),
        ("no queue-due", lambda r: r["JobsTable"]["Properties"].pop("GlobalSecondaryIndexes")),
        ("minimum one worker", lambda r: r["WorkerScaling"]["Properties"].update(MinCapacity=1)),
        ("a port", lambda r: r["WorkerTask"]["Properties"]["ContainerDefinitions"][0]
         .update(PortMappings=[{"ContainerPort": 80}])),
        ("an ingress", lambda r: r["TaskSecurityGroup"]["Properties"]
         .update(SecurityGroupIngress=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                                        "CidrIp": "0.0.0.0/0"}])),
        ("no archive schedule", lambda r: r.pop("ArchiveSchedule")),
        ("a dangling !Ref", lambda r: r["WorkerService"]["Properties"].update(Cluster=Fn("Ref", "Nope"))),
        ("an IAM user with an access key", lambda r: r.update(
            KeyUser={"Type": "AWS::IAM::User",
                     "Properties": {"ManagedPolicyArns": [Fn("Ref", "ArchiverPolicy")]}},
            KeyUserKey={"Type": "AWS::IAM::AccessKey",
                        "Properties": {"UserName": Fn("Ref", "KeyUser")}})),
        ("an access key in a secret", lambda r: r.update(
            KeySecret={"Type": "AWS::SecretsManager::Secret", "Properties": {
                "SecretString": Fn("Sub", '{"AWS_ACCESS_KEY_ID":"${AWS::StackName}"}')}})),
        ("keys in a container's secrets", lambda r: r["DefsTask"]["Properties"]
         ["ContainerDefinitions"][0].update(Secrets=[
             {"Name": "AWS_SECRET_ACCESS_KEY", "ValueFrom": Fn("Ref", "AWS::StackName")}])),
        ("keys in a container's environment", lambda r: r["WorkerTask"]["Properties"]
         ["ContainerDefinitions"][0]["Environment"].append(
             {"Name": "AWS_ACCESS_KEY_ID", "Value": "AKIAEXAMPLE"})),
        ("the execution role reads secrets", lambda r: r["TaskExecutionRole"]["Properties"]
         .update(Policies=[{"PolicyName": "x", "PolicyDocument": {"Statement": [
             {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
              "Resource": Fn("Ref", "AWS::StackName")}]}}])),
        ("a task without a task role", lambda r: r["ArchiveTask"]["Properties"].pop("TaskRoleArn")),
        ("the backlog task with the processor's role", lambda r: r["BacklogTask"]["Properties"]
         .update(TaskRoleArn=Fn("GetAtt", ["ProcessorRole", "Arn"]))),
        ("a task role with a second policy", lambda r: r["MonitorRole"]["Properties"]
         ["ManagedPolicyArns"].append(Fn("Ref", "ArchiverPolicy"))),
        ("a task role trusting an account", lambda r: r["ProcessorRole"]["Properties"]
         ["AssumeRolePolicyDocument"]["Statement"][0]["Principal"].update(
             AWS=Fn("Sub", "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"))),
        ("a task role trusting EC2 too", lambda r: r["ArchiverRole"]["Properties"]
         ["AssumeRolePolicyDocument"]["Statement"][0]["Principal"].update(
             Service=[ECS_TASKS, "ec2.amazonaws.com"])),
        ("a task role without the source conditions", lambda r: r["DefsPublisherRole"]
         ["Properties"]["AssumeRolePolicyDocument"]["Statement"][0].pop("Condition")),
        ("PassRole on *", lambda r: r["ScheduleRole"]["Properties"]["Policies"][0]
         ["PolicyDocument"]["Statement"][1].update(Resource="*")),
        ("PassRole on the processor's role too", lambda r: r["ScheduleRole"]["Properties"]
         ["Policies"][0]["PolicyDocument"]["Statement"][1]["Resource"].append(
             Fn("GetAtt", ["ProcessorRole", "Arn"]))),
        ("PassRole without the archiver's role", lambda r: r["ScheduleRole"]["Properties"]
         ["Policies"][0]["PolicyDocument"]["Statement"][1]["Resource"].remove(
             Fn("GetAtt", ["ArchiverRole", "Arn"]))),
        ("PassRole to any service", lambda r: r["ScheduleRole"]["Properties"]["Policies"][0]
         ["PolicyDocument"]["Statement"][1].pop("Condition")),
    ]
    tmissed = [what for what, change in tmutants if not tmutant(change)]
    report(f"the template checks refuse {len(tmutants)} known-bad templates",
           [f"not refused: {m}" for m in tmissed])

    print(f"1..{n}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
