"""The thin step of the AWS deploy: resource specs → CDK constructs.

Every decision was made in ``pizzabus.aws.specs``; this module only creates the constructs and
resolves what exists once CloudFormation creates them (ARNs, API ids, URLs). Rules are level-1
``CfnRule`` constructs because the level-2 ``Rule`` cannot express a top-level ``$or`` pattern;
their Lambda permissions and dead-letter queue policies are therefore written out here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

try:
    import aws_cdk as cdk
    from aws_cdk import aws_apigatewayv2 as apigw
    from aws_cdk import aws_apigatewayv2_integrations as integrations
    from aws_cdk import aws_dynamodb as dynamodb
    from aws_cdk import aws_events as events
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_logs as logs
    from aws_cdk import aws_sqs as sqs
    from constructs import Construct
except ImportError as err:  # the `aws` extra is not installed
    from pizzabus.aws.errors import MissingExtraError

    raise MissingExtraError(err.name or "aws-cdk-lib") from err

from pizzabus.aws.specs import (
    FunctionSpec,
    HttpApiSpec,
    KeySpec,
    LambdaRouteSpec,
    ResourceRef,
    RuleSpec,
    StackSpec,
    TableSpec,
    TargetSpec,
    WebSocketApiSpec,
)

#: Where the web client runs by default (``pizzabus serve``); the stack output points it at AWS.
DEFAULT_CLIENT_URL = "http://127.0.0.1:8000/"

#: How long dead-lettered events stay in their queue (SQS's maximum).
DLQ_RETENTION = cdk.Duration.days(14)


def _id(name: str) -> str:
    """A construct id from a resource name: ``lab_make_pizza_rule`` → ``LabMakePizzaRule``."""
    return "".join(part[:1].upper() + part[1:] for part in name.replace("-", "_").split("_"))


class SystemStack(cdk.Stack):
    """One stack holding a whole system: bus, rules, functions, tables and both APIs."""

    def __init__(
        self,
        scope: Construct,
        spec: StackSpec,
        *,
        client_url: str = DEFAULT_CLIENT_URL,
        env: cdk.Environment | None = None,
    ) -> None:
        super().__init__(
            scope,
            spec.stack_name,
            env=env,
            description=f"pizzabus: the system {spec.stack_name!r}, from its system definition",
        )
        cdk.Tags.of(self).add("pizzabus:system", spec.stack_name)
        self.spec = spec
        self.buses = {
            name: events.EventBus(self, _id(name), event_bus_name=name) for name in spec.buses
        }
        self.tables = {t.name: self._table(t) for t in spec.tables}
        self.websocket_api: Any = None
        self.websocket_stage: Any = None
        if spec.websocket_api:
            self._websocket_api(spec.websocket_api)
        self.functions = {f.name: self._function(f) for f in spec.functions}
        self.dead_letter_queues: dict[str, Any] = {}
        self._async_configured: set[str] = set()
        for rule in spec.rules:
            self._rule(rule)
        if spec.websocket_api:
            self._websocket_routes(spec.websocket_api)
        self.http_api: Any = None
        if spec.http_api:
            self._http_api(spec.http_api)
        self._outputs(client_url)

    # -- tables ------------------------------------------------------------------------------

    def _table(self, spec: TableSpec) -> Any:
        table = dynamodb.Table(
            self,
            _id(spec.name),
            table_name=spec.name,
            partition_key=_attribute(spec.partition_key),
            sort_key=_attribute(spec.sort_key) if spec.sort_key else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=spec.ttl_attribute,
            # `pizzabus destroy` leaves nothing behind (and nothing billed).
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        for index in spec.indexes:
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=_attribute(index.partition_key),
                sort_key=_attribute(index.sort_key) if index.sort_key else None,
                projection_type=dynamodb.ProjectionType.ALL,
            )
        return table

    # -- functions ---------------------------------------------------------------------------

    def _function(self, spec: FunctionSpec) -> Any:
        environment = dict(spec.environment)
        for variable in spec.websocket_endpoints:
            environment[variable] = self.websocket_callback_url()
        log_group = logs.LogGroup(
            self,
            f"{_id(spec.name)}Logs",
            retention=logs.RetentionDays.ONE_WEEK,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        # The role is written out instead of taking AWSLambdaBasicExecutionRole, which may
        # write to every log group: this one may write to its own only.
        role = iam.Role(
            self,
            f"{_id(spec.name)}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"pizzabus: what {spec.name} may do",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group.log_group_arn],
            )
        )
        function = lambda_.Function(
            self,
            _id(spec.name),
            function_name=spec.name,
            role=role,
            runtime=lambda_.Runtime(spec.runtime, lambda_.RuntimeFamily.PYTHON),
            handler=spec.handler,
            code=lambda_.Code.from_asset(str(spec.code_dir), exclude=list(spec.asset_excludes)),
            timeout=cdk.Duration.seconds(spec.timeout_seconds),
            memory_size=spec.memory_mb,
            reserved_concurrent_executions=spec.reserved_concurrency,
            environment=environment,
            description=spec.description or None,
            log_group=log_group,
            # Active X-Ray tracing: the journey `pizzabus trace` shows locally (the trace header
            # carried from API Gateway through EventBridge to each function) shows in X-Ray.
            tracing=lambda_.Tracing.ACTIVE,
        )
        for policy in spec.policies:
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=list(policy.actions),
                    resources=[self._arn(ref) for ref in policy.resources],
                )
            )
        return function

    def _arn(self, ref: ResourceRef) -> str:
        if ref.kind == "bus":
            return str(self.buses[ref.name].event_bus_arn)
        if ref.kind == "table":
            return str(self.tables[ref.name].table_arn)
        if ref.kind == "table_index":
            return f"{self.tables[ref.name].table_arn}/index/{ref.index}"
        return self.format_arn(
            service="execute-api",
            resource=self.websocket_api.api_id,
            resource_name=ref.path,
            arn_format=cdk.ArnFormat.SLASH_RESOURCE_NAME,
        )

    # -- rules -------------------------------------------------------------------------------

    def _rule(self, spec: RuleSpec) -> Any:
        rule_id = _id(spec.name)
        rule = events.CfnRule(
            self,
            rule_id,
            name=spec.name,
            event_bus_name=self.buses[spec.bus].event_bus_name,
            event_pattern=spec.event_pattern,
            description=spec.description or None,
            state="ENABLED",
        )
        targets: list[Any] = []
        for target in spec.targets:
            function = self.functions[target.function]
            dead_letter_config = None
            if target.dead_letter_queue:
                queue = self._dead_letter_queue(f"{rule_id}{_id(target.function)}", rule.attr_arn)
                self.dead_letter_queues[f"{spec.name}/{target.function}"] = queue
                dead_letter_config = events.CfnRule.DeadLetterConfigProperty(arn=queue.queue_arn)
                if target.function not in self._async_configured:
                    self._async_configured.add(target.function)
                    self._park_handler_failures(function, target, queue)
            targets.append(
                events.CfnRule.TargetProperty(
                    id=target.function,
                    arn=function.function_arn,
                    retry_policy=events.CfnRule.RetryPolicyProperty(
                        maximum_retry_attempts=target.maximum_retry_attempts,
                        maximum_event_age_in_seconds=target.maximum_event_age_seconds,
                    ),
                    dead_letter_config=dead_letter_config,
                )
            )
            function.add_permission(
                f"InvokedBy{rule_id}",
                principal=iam.ServicePrincipal("events.amazonaws.com"),
                source_arn=rule.attr_arn,
            )
        rule.targets = targets
        return rule

    def _park_handler_failures(self, function: Any, target: TargetSpec, queue: Any) -> None:
        """What the handler raises is retried by Lambda, then parked in the target's queue.

        The function's own dead-letter queue (not an on-failure destination) keeps the message
        the event itself, as EventBridge's dead letters are, and needs only sqs:SendMessage."""
        function.configure_async_invoke(
            retry_attempts=target.async_retry_attempts,
            max_event_age=cdk.Duration.seconds(target.async_max_event_age_seconds),
        )
        function.node.default_child.add_property_override(
            "DeadLetterConfig.TargetArn", queue.queue_arn
        )
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[queue.queue_arn])
        )

    def _dead_letter_queue(self, queue_id: str, rule_arn: str) -> Any:
        queue = sqs.Queue(
            self,
            f"{queue_id}DeadLetters",
            retention_period=DLQ_RETENTION,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        queue.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[queue.queue_arn],
                conditions={"ArnEquals": {"aws:SourceArn": rule_arn}},
            )
        )
        return queue

    # -- APIs --------------------------------------------------------------------------------

    def _websocket_api(self, spec: WebSocketApiSpec) -> None:
        self.websocket_api = apigw.WebSocketApi(
            self,
            _id(spec.name),
            api_name=spec.name,
            route_selection_expression=spec.route_selection_expression,
        )
        self.websocket_stage = apigw.WebSocketStage(
            self,
            f"{_id(spec.name)}Stage",
            web_socket_api=self.websocket_api,
            stage_name=spec.stage,
            auto_deploy=True,
        )

    def websocket_callback_url(self) -> str:
        """The management (connection) URL of the WebSocket stage: what the lab copies by hand."""
        spec = self.spec.websocket_api
        if spec is None or self.websocket_api is None:
            raise LookupError("this system has no WebSocket API")
        return (
            f"https://{self.websocket_api.api_id}.execute-api.{self.region}."
            f"{self.url_suffix}/{spec.stage}"
        )

    def _websocket_routes(self, spec: WebSocketApiSpec) -> None:
        for route_key, function_name in spec.routes.items():
            self.websocket_api.add_route(
                route_key,
                integration=integrations.WebSocketLambdaIntegration(
                    f"{_id(route_key.lstrip('$'))}Integration", self.functions[function_name]
                ),
            )

    def _http_api(self, spec: HttpApiSpec) -> None:
        self.http_api = apigw.HttpApi(
            self,
            _id(spec.name),
            api_name=spec.name,
            cors_preflight=apigw.CorsPreflightOptions(
                allow_origins=list(spec.cors.allow_origins),
                allow_methods=[apigw.CorsHttpMethod(m) for m in spec.cors.allow_methods],
                allow_headers=list(spec.cors.allow_headers),
            ),
        )
        for route in spec.routes:
            name = _route_id(route.method, route.path)
            integration: Any
            if isinstance(route, LambdaRouteSpec):
                integration = integrations.HttpLambdaIntegration(
                    f"{name}Integration",
                    self.functions[route.function],
                    payload_format_version=apigw.PayloadFormatVersion.custom(
                        route.payload_format_version
                    ),
                )
            else:
                bus = self.buses[route.bus]
                mapping = apigw.ParameterMapping()
                for key, value in route.request_parameters.items():
                    mapping.custom(key, value)
                mapping.custom("EventBusName", bus.event_bus_arn)  # as the lab sets it
                integration = integrations.HttpEventBridgeIntegration(
                    f"{name}Integration", event_bus_ref=bus.event_bus_ref, parameter_mapping=mapping
                )
            self.http_api.add_routes(
                path=route.path, methods=[apigw.HttpMethod(route.method)], integration=integration
            )

    # -- outputs -----------------------------------------------------------------------------

    def _outputs(self, client_url: str) -> None:
        http_url = ws_url = None
        if self.http_api is not None:
            http_url = self.http_api.api_endpoint
            cdk.CfnOutput(self, "HttpApiUrl", value=self.http_api.url, description="POST / here")
        if self.websocket_stage is not None:
            ws_url = self.websocket_stage.url
            cdk.CfnOutput(
                self, "WebSocketUrl", value=ws_url, description="Connect with ?order_id=<id>"
            )
        if http_url and ws_url:
            cdk.CfnOutput(
                self,
                "WebClientUrl",
                value=f"{client_url}?api={http_url}&ws={ws_url}",
                description="The local web client (pizzabus serve), pointed at this stack",
            )


def new_app(*, outdir: str | None = None) -> Any:
    """A CDK app writing its cloud assembly to ``outdir`` (the CDK CLI's choice when None)."""
    return cdk.App(outdir=outdir)


def _attribute(key: KeySpec) -> Any:
    types: Mapping[str, Any] = {
        "S": dynamodb.AttributeType.STRING,
        "N": dynamodb.AttributeType.NUMBER,
        "B": dynamodb.AttributeType.BINARY,
    }
    return dynamodb.Attribute(name=key.name, type=types[key.type])


def _route_id(method: str, path: str) -> str:
    words = [w.strip("{}") for w in path.split("/") if w]
    return _id("_".join([method.lower(), *words]) if words else f"{method.lower()}_root")
