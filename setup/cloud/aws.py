"""The AWS side with boto3: IAM role, Secrets Manager secret, Lambda function, its log group,
and the self-managed Kafka event source mapping; and their teardown.

Clients are injected (``AwsClients``), so tests run on moto; the mapping goes through its own
small interface (``Mappings``) because moto cannot create a self-managed Kafka mapping.
NotFound counts as success in every delete.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from streamlab.config import ConfigError, StreamlabError

BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
INLINE_POLICY = "read-settlement-secret"
HANDLER = "lambda_fn.handler.handler"
NOT_FOUND = {"ResourceNotFoundException", "NoSuchEntity", "NoSuchEntityException"}


class AwsError(StreamlabError):
    pass


def code_of(e: ClientError) -> str:
    return e.response.get("Error", {}).get("Code", "")


class Mappings(Protocol):
    """Create, read, delete event source mappings (``get`` returns None once it is gone)."""

    def create(self, **params: Any) -> dict[str, Any]: ...
    def get(self, uuid: str) -> dict[str, Any] | None: ...
    def list(self, function: str) -> list[dict[str, Any]]: ...
    def delete(self, uuid: str) -> None: ...


class BotoMappings:
    """The real thing: a Lambda client's event source mapping calls."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def create(self, **params: Any) -> dict[str, Any]:
        return self.client.create_event_source_mapping(**params)

    def get(self, uuid: str) -> dict[str, Any] | None:
        try:
            return self.client.get_event_source_mapping(UUID=uuid)
        except ClientError as e:
            if code_of(e) in NOT_FOUND:
                return None
            raise

    def list(self, function: str) -> list[dict[str, Any]]:
        try:
            return self.client.list_event_source_mappings(FunctionName=function)[
                "EventSourceMappings"
            ]
        except ClientError as e:
            if code_of(e) in NOT_FOUND:
                return []
            raise

    def delete(self, uuid: str) -> None:
        try:
            self.client.delete_event_source_mapping(UUID=uuid)
        except ClientError as e:
            if code_of(e) not in NOT_FOUND:
                raise


@dataclass
class AwsClients:
    iam: Any
    secrets: Any
    lam: Any
    logs: Any
    sts: Any
    mappings: Mappings

    @classmethod
    def for_region(cls, region: str) -> AwsClients:
        import boto3

        session = boto3.Session(region_name=region)
        lam = session.client("lambda")
        return cls(
            iam=session.client("iam"),
            secrets=session.client("secretsmanager"),
            lam=lam,
            logs=session.client("logs"),
            sts=session.client("sts"),
            mappings=BotoMappings(lam),
        )


class Aws:
    def __init__(
        self,
        clients: AwsClients,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        basic_execution: str = BASIC_EXECUTION,
    ) -> None:
        self.c = clients
        self.sleep = sleep
        self.clock = clock
        self.basic_execution = basic_execution  # the managed policy the role gets

    # --- checks -----------------------------------------------------------------------------

    def preflight(self) -> str:
        """The account id; ConfigError with what to do when there are no usable credentials."""
        try:
            return self.c.sts.get_caller_identity()["Account"]
        except NoCredentialsError:
            raise ConfigError(
                "no AWS credentials: run `aws configure`, set AWS_PROFILE, or export "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            ) from None
        except ClientError as e:
            raise ConfigError(
                f"AWS refused the credentials ({code_of(e)}): check AWS_PROFILE or the access "
                "key (and that its session token has not expired)"
            ) from None
        except BotoCoreError as e:
            raise ConfigError(f"cannot reach AWS STS: {e}") from None

    # --- IAM role -----------------------------------------------------------------------------

    def role_arn(self, name: str) -> str | None:
        try:
            return self.c.iam.get_role(RoleName=name)["Role"]["Arn"]
        except ClientError as e:
            if code_of(e) in NOT_FOUND:
                return None
            raise

    def ensure_role(self, name: str, tag: str) -> tuple[str, bool]:
        arn = self.role_arn(name)
        created = arn is None
        if created:
            arn = self.c.iam.create_role(
                RoleName=name,
                AssumeRolePolicyDocument=json.dumps(TRUST),
                Description="streamlab workshop: the settlement function",
                Tags=[{"Key": "streamlab-run", "Value": tag}],
            )["Role"]["Arn"]
        self.c.iam.attach_role_policy(RoleName=name, PolicyArn=self.basic_execution)  # idempotent
        return arn, created

    def allow_secret(self, role: str, secret_arn: str) -> None:
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "secretsmanager:GetSecretValue",
                    "Resource": secret_arn,
                }
            ],
        }
        self.c.iam.put_role_policy(
            RoleName=role, PolicyName=INLINE_POLICY, PolicyDocument=json.dumps(policy)
        )

    def delete_role(self, name: str) -> None:
        iam = self.c.iam
        try:
            for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
                iam.detach_role_policy(RoleName=name, PolicyArn=p["PolicyArn"])
            for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
                iam.delete_role_policy(RoleName=name, PolicyName=policy)
            iam.delete_role(RoleName=name)
        except ClientError as e:
            if code_of(e) not in NOT_FOUND:
                raise

    # --- secret -------------------------------------------------------------------------------

    def secret_arn(self, name: str) -> str | None:
        """The ARN if the secret exists and is not scheduled for deletion."""
        try:
            described = self.c.secrets.describe_secret(SecretId=name)
        except ClientError as e:
            if code_of(e) in NOT_FOUND:
                return None
            raise
        return None if described.get("DeletedDate") else described["ARN"]

    def ensure_secret(self, name: str, value: dict[str, str], tag: str) -> str:
        text = json.dumps(value)
        try:
            return self.c.secrets.create_secret(
                Name=name,
                SecretString=text,
                Description="streamlab workshop: Kafka and Schema Registry settings",
                Tags=[{"Key": "streamlab-run", "Value": tag}],
            )["ARN"]
        except ClientError as e:
            if code_of(e) != "ResourceExistsException":
                raise
        try:
            self.c.secrets.put_secret_value(SecretId=name, SecretString=text)
        except ClientError as e:
            if code_of(e) != "InvalidRequestException":  # scheduled for deletion
                raise
            self.c.secrets.restore_secret(SecretId=name)
            self.c.secrets.put_secret_value(SecretId=name, SecretString=text)
        return self.c.secrets.describe_secret(SecretId=name)["ARN"]

    def delete_secret(self, name: str) -> None:
        try:
            # No recovery window: a plain delete keeps the name reserved for 7-30 days.
            self.c.secrets.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
        except ClientError as e:
            if code_of(e) not in NOT_FOUND:
                raise

    # --- function -----------------------------------------------------------------------------

    def function_state(self, name: str) -> str | None:
        try:
            return self.c.lam.get_function(FunctionName=name)["Configuration"].get(
                "State", "Active"
            )
        except ClientError as e:
            if code_of(e) in NOT_FOUND:
                return None
            raise

    def ensure_function(
        self,
        name: str,
        role_arn: str,
        zip_bytes: Callable[[], bytes],
        variables: dict[str, str],
        runtime: str,
        arch: str,
        tag: str,
        propagation_timeout: float = 90.0,
    ) -> bool:
        """Create the function unless it exists; True if created. Waits until Active."""
        if self.function_state(name) is not None:
            return False
        code = zip_bytes()
        deadline = self.clock() + propagation_timeout
        delay = 2.0
        while True:
            try:
                self.c.lam.create_function(
                    FunctionName=name,
                    Runtime=runtime,
                    Role=role_arn,
                    Handler=HANDLER,
                    Code={"ZipFile": code},
                    Timeout=60,
                    MemorySize=512,
                    Architectures=[arch],
                    Environment={"Variables": variables},
                    Description="streamlab workshop: settles user_trades",
                    Tags={"streamlab-run": tag},
                )
                break
            except ClientError as e:
                # A new role takes a while to be usable by Lambda (IAM is eventually consistent).
                text = str(e)
                if "cannot be assumed" not in text or self.clock() >= deadline:
                    raise
                self.sleep(delay)
                delay = min(delay * 2, 15.0)
        self.c.lam.get_waiter("function_active_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 5, "MaxAttempts": 60}
        )
        return True

    def delete_function(self, name: str) -> None:
        try:
            self.c.lam.delete_function(FunctionName=name)
        except ClientError as e:
            if code_of(e) not in NOT_FOUND:
                raise

    def ensure_log_group(self, name: str, days: int = 1) -> None:
        try:
            self.c.logs.create_log_group(logGroupName=name)
        except ClientError as e:
            if code_of(e) != "ResourceAlreadyExistsException":
                raise
        self.c.logs.put_retention_policy(logGroupName=name, retentionInDays=days)

    def log_group_exists(self, name: str) -> bool:
        groups = self.c.logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
        return any(g["logGroupName"] == name for g in groups)

    def delete_log_group(self, name: str) -> None:
        try:
            self.c.logs.delete_log_group(logGroupName=name)
        except ClientError as e:
            if code_of(e) not in NOT_FOUND:
                raise

    # --- event source mapping -----------------------------------------------------------------

    def ensure_mapping(
        self,
        function: str,
        bootstrap: str,
        topic: str,
        secret_arn: str,
        group: str,
        uuid: str | None = None,
    ) -> dict[str, Any]:
        """The mapping (``uuid``'s, else the function's one on ``topic``, else a new one)."""
        if uuid:
            found = self.c.mappings.get(uuid)
            if found:
                return found
        for m in self.c.mappings.list(function):
            if topic in (m.get("Topics") or []):
                return m
        return self.c.mappings.create(
            FunctionName=function,
            Topics=[topic],
            StartingPosition="TRIM_HORIZON",
            SelfManagedEventSource={"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": [bootstrap]}},
            SourceAccessConfigurations=[{"Type": "BASIC_AUTH", "URI": secret_arn}],
            SelfManagedKafkaEventSourceConfig={"ConsumerGroupId": group},
            BatchSize=100,
            Enabled=True,
        )

    def wait_mapping(self, uuid: str, timeout: float, interval: float = 10.0) -> dict[str, Any]:
        deadline = self.clock() + timeout
        while True:
            m = self.c.mappings.get(uuid)
            if m is None:
                raise AwsError(f"event source mapping {uuid} disappeared while starting")
            state = m.get("State")
            if state == "Enabled":
                return m
            if state == "Disabled":
                raise AwsError(
                    f"event source mapping {uuid} is Disabled: "
                    f"{m.get('StateTransitionReason') or m.get('LastProcessingResult')}"
                )
            if self.clock() >= deadline:
                raise AwsError(
                    f"event source mapping {uuid} still {state} after {timeout:.0f} s "
                    f"({m.get('LastProcessingResult') or 'no processing result yet'}); "
                    "run `up` again to keep waiting, or `down`"
                )
            self.sleep(interval)

    def delete_mapping(self, uuid: str, timeout: float = 300.0, interval: float = 5.0) -> None:
        self.c.mappings.delete(uuid)
        deadline = self.clock() + timeout
        while self.c.mappings.get(uuid) is not None:
            if self.clock() >= deadline:
                raise AwsError(f"event source mapping {uuid} still exists after {timeout:.0f} s")
            self.sleep(interval)
