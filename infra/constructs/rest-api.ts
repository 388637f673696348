/**
 * The REST API, built from the shared route table (the local HTTP server reads the same table, so they cannot drift):
 * one resource tree, one Lambda integration per API function, the REQUEST authorizer on every non-public route
 * (cached 60 s by the Authorization header, so a revoked key stops working within a minute), stage throttling, JSON
 * access logs, request validation, and API Gateway's own error responses rewritten to the service's error envelope.
 */
import { Duration, Size, Validations } from "aws-cdk-lib";
import {
  AccessLogFormat,
  AuthorizationType,
  Cors,
  type CorsOptions,
  EndpointType,
  IdentitySource,
  JsonSchemaType,
  JsonSchemaVersion,
  LambdaIntegration,
  LogGroupLogDestination,
  type Method,
  MethodLoggingLevel,
  type Model,
  RequestAuthorizer,
  type RequestValidator,
  ResponseType,
  RestApi,
} from "aws-cdk-lib/aws-apigateway";
import { LogGroup } from "aws-cdk-lib/aws-logs";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { CORS_ALLOW_HEADERS, CORS_MAX_AGE_SECONDS } from "../../shared/http/cors.js";
import {
  API_BASE_PATH,
  type ApiFunctionName,
  CONSOLE_FUNCTION,
  CONSOLE_ROUTES,
  ROUTES,
  type RouteDefinition,
} from "../../shared/http/routes.js";
import { AppFunction, type AppFunctionProps, type FunctionDefaults } from "./app-function.js";
import type { DataStore } from "./data-store.js";

/** The stage name: the API's base URL is `https://{id}.execute-api.{region}.amazonaws.com/prod`. */
const STAGE_NAME = "prod";
/** API Gateway's integration timeout is 29 s; the API functions stop before it, so a slow call is a Lambda error. */
const API_TIMEOUT = Duration.seconds(25);

type FunctionSpec = Pick<AppFunctionProps, "description" | "timeout" | "memorySize">;

/** Per API function: what it is and how big. `satisfies` makes a new function in routes.ts a compile error here. */
const API_FUNCTION_SPECS = {
  "api-query": {
    description: "Reference data reads: list, by type, lookup, AI context, health",
    timeout: API_TIMEOUT,
    // Lookup indexes are built in memory per partition version and kept warm; memory also buys CPU.
    memorySize: 1024,
  },
  "api-sync": { description: "Sync triggers and sync status", timeout: API_TIMEOUT, memorySize: 512 },
  "api-config": {
    description: "Sources, connections and the OpenAPI document",
    timeout: API_TIMEOUT,
    memorySize: 512,
  },
} as const satisfies Record<ApiFunctionName, FunctionSpec>;

/**
 * An API Gateway-generated error rewritten to `{ success: false, error: { code, message, requestId } }`. Gateway
 * response templates are not VTL, only plain substitution: messages are static JSON strings or
 * `$context.error.messageString` (API Gateway's own quoted message); nothing client-controlled is interpolated.
 */
export interface GatewayErrorResponse {
  /** API Gateway's response type, e.g. `UNAUTHORIZED`. */
  type: string;
  /** The status to send; omitted for the defaults, which keep API Gateway's own 4xx/5xx status. */
  statusCode?: string;
  code: string;
  /** A static message; omitted to use API Gateway's own message. */
  message?: string;
  suggestedResolution?: { action: string; description: string; retryable: boolean };
  headers?: Record<string, string>;
}

export const GATEWAY_ERROR_RESPONSES: readonly GatewayErrorResponse[] = [
  {
    // No Authorization header: API Gateway answers without calling the authorizer.
    type: "UNAUTHORIZED",
    statusCode: "401",
    code: "INVALID_API_KEY",
    message: "Missing or invalid API key: send Authorization: Bearer <api key>",
    suggestedResolution: { action: "CHECK_API_KEY", description: "Send a valid, unrevoked API key", retryable: false },
  },
  {
    // The authorizer denies only keys that do not resolve (unknown, revoked, malformed); scopes are checked by the
    // handlers, since one cached policy covers every route. So a deny is an invalid key, as DESIGN.md says: 401.
    type: "ACCESS_DENIED",
    statusCode: "401",
    code: "INVALID_API_KEY",
    message: "The API key is unknown or revoked",
    suggestedResolution: { action: "CHECK_API_KEY", description: "Send a valid, unrevoked API key", retryable: false },
  },
  {
    // REST APIs answer an unknown path (or an unknown method on a known path) this way.
    type: "MISSING_AUTHENTICATION_TOKEN",
    statusCode: "404",
    code: "NOT_FOUND",
    message: `No such route: see GET ${API_BASE_PATH}/openapi.json`,
  },
  {
    type: "BAD_REQUEST_BODY",
    statusCode: "400",
    code: "VALIDATION_ERROR",
    message: `The request body does not match this route's schema: see GET ${API_BASE_PATH}/openapi.json`,
    suggestedResolution: {
      action: "RETRY_WITH_MODIFIED_INPUT",
      description: "Fix the request body",
      retryable: false,
    },
  },
  {
    type: "BAD_REQUEST_PARAMETERS",
    statusCode: "400",
    code: "VALIDATION_ERROR",
    message: "A required request parameter is missing",
    suggestedResolution: {
      action: "RETRY_WITH_MODIFIED_INPUT",
      description: "Add the missing parameter",
      retryable: false,
    },
  },
  {
    type: "REQUEST_TOO_LARGE",
    statusCode: "413",
    code: "PAYLOAD_TOO_LARGE",
    message: "The request body is too large",
    suggestedResolution: {
      action: "RETRY_WITH_MODIFIED_INPUT",
      description: "Send a smaller body",
      retryable: false,
    },
  },
  {
    type: "THROTTLED",
    statusCode: "429",
    code: "RATE_LIMITED",
    message: "Too many requests",
    suggestedResolution: { action: "RETRY_AFTER_DELAY", description: "Retry after a short delay", retryable: true },
    headers: { "Retry-After": "1" },
  },
  {
    type: "INTEGRATION_TIMEOUT",
    statusCode: "504",
    code: "TIMEOUT",
    message: "The request timed out",
    suggestedResolution: { action: "RETRY_AFTER_DELAY", description: "Retry after a short delay", retryable: true },
  },
  { type: "DEFAULT_4XX", code: "INVALID_REQUEST" },
  {
    type: "DEFAULT_5XX",
    code: "INTERNAL_ERROR",
    message: "Internal error",
    suggestedResolution: { action: "RETRY_AFTER_DELAY", description: "Retry after a short delay", retryable: true },
  },
];

/** The body template of one gateway error response. */
function gatewayErrorTemplate(response: GatewayErrorResponse): string {
  const message = response.message === undefined ? "$context.error.messageString" : JSON.stringify(response.message);
  const resolution =
    response.suggestedResolution === undefined
      ? ""
      : `,"suggestedResolution":${JSON.stringify(response.suggestedResolution)}`;
  return `{"success":false,"error":{"code":${JSON.stringify(response.code)},"message":${message},"requestId":"$context.requestId"${resolution}}}`;
}

/**
 * Bodies API Gateway can check before a Lambda runs, by operationId. Only the top level: the handler's zod schema
 * validates the rest and names the failing field, which API Gateway's generic message cannot.
 */
const BODY_SCHEMAS: Readonly<Record<string, { required: string[]; objects?: string[] }>> = {
  putSource: { required: ["integrationSlug", "actionSlug", "referenceData"], objects: ["referenceData"] },
};

export interface ReferenceDataApiProps {
  store: DataStore;
  queue: IQueue;
  defaults: FunctionDefaults;
  /** Origins allowed by CORS (the Waygate UI); `*` for any; empty for none. */
  allowedOrigins: readonly string[];
  /**
   * Whether to set the account's API Gateway CloudWatch Logs role (an account-and-region-wide setting that execution
   * and access logs need). Turn off where the account already has one, so this stack does not replace it.
   */
  cloudWatchRole: boolean;
  /** The deployment stage: it names the REST API (`reference-data-sync-<stage>`). */
  stage: string;
  /** Waygate's base URL: the config function verifies a tenant's key there before storing it. */
  gatewayUrl: string;
  /** Stage throttling: steady requests per second and burst. */
  throttlingRateLimit: number;
  throttlingBurstLimit: number;
}

/** The REST API, its four Lambdas (three API functions and the authorizer) and its access logs. */
export class ReferenceDataApi extends Construct {
  readonly api: RestApi;
  readonly functions: Readonly<Record<ApiFunctionName, AppFunction>>;
  readonly authorizerFunction: AppFunction;
  readonly accessLogs: LogGroup;
  /** The group API Gateway writes execution logs to, created here so it has a retention (API Gateway's has none). */
  readonly executionLogs: LogGroup;
  /** Methods by operationId. */
  readonly methods: ReadonlyMap<string, Method>;
  /** The admin console's function (static files only: no table, queue or secret) and its public GET methods. */
  readonly consoleFunction: AppFunction;
  readonly consoleMethods: readonly Method[];

  constructor(scope: Construct, id: string, props: ReferenceDataApiProps) {
    super(scope, id);
    const { store, defaults } = props;

    // Every API function reads the secret: its cursorSecret signs pagination cursors.
    this.functions = {
      "api-query": this.apiFunction("QueryFunction", "api-query", defaults).readTable(store).readSecret(store.secret),
      "api-sync": this.apiFunction("SyncFunction", "api-sync", defaults)
        .writeTable(store)
        .sendTo(props.queue, "QUEUE_URL")
        .readSecret(store.secret),
      // Saving a tenant's Waygate key (verified against the gateway) or a webhook's signing secret, each encrypted under
      // a fresh data key.
      "api-config": this.apiFunction("ConfigFunction", "api-config", defaults)
        .writeTable(store)
        .sendTo(props.queue, "QUEUE_URL")
        .readSecret(store.secret)
        .useCredentialsKey(store.credentialsKey, "encrypt")
        .setEnvironment("GATEWAY_URL", props.gatewayUrl),
    };
    this.authorizerFunction = new AppFunction(this, "AuthorizerFunction", {
      name: "authorizer",
      description: "Resolves an API key to its tenant and scopes",
      timeout: Duration.seconds(10),
      // It runs before every uncached request: memory buys CPU, which shortens its cold start and each key lookup.
      memorySize: 1024,
      defaults,
    }).readTable(store);

    this.accessLogs = new LogGroup(this, "AccessLogs", {
      retention: defaults.logRetention,
      removalPolicy: defaults.removalPolicy,
    });

    this.api = new RestApi(this, "Api", {
      restApiName: `reference-data-sync-${props.stage}`,
      description: `Reference Data Sync REST API (${props.stage})`,
      endpointTypes: [EndpointType.REGIONAL],
      cloudWatchRole: props.cloudWatchRole,
      minCompressionSize: Size.kibibytes(1),
      defaultCorsPreflightOptions: corsOptions(props.allowedOrigins),
      deployOptions: {
        stageName: STAGE_NAME,
        throttlingRateLimit: props.throttlingRateLimit,
        throttlingBurstLimit: props.throttlingBurstLimit,
        tracingEnabled: true,
        loggingLevel: MethodLoggingLevel.ERROR,
        // Full request/response logging would write API keys and tenant data into the logs.
        dataTraceEnabled: false,
        accessLogDestination: new LogGroupLogDestination(this.accessLogs),
        // Only values API Gateway produces itself: access logs interpolate without escaping, so a client-chosen
        // string (a user agent with a quote) could break the JSON line.
        accessLogFormat: AccessLogFormat.custom(
          JSON.stringify({
            requestId: "$context.requestId",
            extendedRequestId: "$context.extendedRequestId",
            time: "$context.requestTime",
            ip: "$context.identity.sourceIp",
            method: "$context.httpMethod",
            resource: "$context.resourcePath",
            status: "$context.status",
            responseLength: "$context.responseLength",
            latencyMs: "$context.responseLatency",
            integrationLatencyMs: "$context.integration.latency",
            integrationStatus: "$context.integration.status",
            tenantId: "$context.authorizer.tenantId",
            keyId: "$context.authorizer.keyId",
            authorizerStatus: "$context.authorizer.status",
            authorizerError: "$context.authorizer.error",
            error: "$context.error.message",
            errorType: "$context.error.responseType",
            xrayTraceId: "$context.xrayTraceId",
          }),
        ),
      },
    });
    // API Gateway names this group itself; creating it first is the only way to give it a retention.
    this.executionLogs = new LogGroup(this, "ExecutionLogs", {
      logGroupName: `API-Gateway-Execution-Logs_${this.api.restApiId}/${STAGE_NAME}`,
      retention: defaults.logRetention,
      removalPolicy: defaults.removalPolicy,
    });
    this.api.deploymentStage.node.addDependency(this.executionLogs);
    const cloudWatchRole = this.api.node.tryFindChild("CloudWatchRole");
    if (cloudWatchRole !== undefined) {
      Validations.of(cloudWatchRole).acknowledge({
        id: "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
        reason:
          "The account-level role API Gateway uses to write execution and access logs; AWS's managed policy is the documented one and is scoped to CloudWatch Logs",
      });
    }
    Validations.of(this.api).acknowledge({
      id: "AwsSolutions-COG4",
      reason:
        "Callers are services and the Waygate UI holding tenant API keys, not Cognito users: a Lambda REQUEST authorizer resolves the key to its tenant and scopes (DESIGN.md: REST API)",
    });
    Validations.of(this.api).acknowledge({
      id: "AwsSolutions-APIG3",
      reason:
        "No WAF web ACL by default: every non-public route needs an API key checked by the authorizer, the stage is throttled, and a web ACL can be associated per environment without a code change",
    });

    const authorizer = new RequestAuthorizer(this, "Authorizer", {
      handler: this.authorizerFunction.alias,
      identitySources: [IdentitySource.header("Authorization")],
      resultsCacheTtl: Duration.seconds(60),
    });
    // One integration per function; test invocations from the console do not need their own permissions.
    const integrations = Object.fromEntries(
      Object.entries(this.functions).map(([name, fn]) => [
        name,
        new LambdaIntegration(fn.alias, { allowTestInvoke: false }),
      ]),
    ) as Record<ApiFunctionName, LambdaIntegration>;
    const validator = this.api.addRequestValidator("RequestValidator", {
      validateRequestBody: true,
      validateRequestParameters: true,
    });
    const models = this.bodyModels();

    const methods = new Map<string, Method>();
    for (const route of ROUTES) {
      const method = this.api.root.resourceForPath(route.path).addMethod(route.method, integrations[route.function], {
        operationName: route.operationId,
        ...(route.auth === "public"
          ? { authorizationType: AuthorizationType.NONE }
          : { authorizationType: AuthorizationType.CUSTOM, authorizer }),
        requestValidator: validator,
        requestParameters: pathParameters(route),
        ...(models.has(route.operationId)
          ? { requestModels: { "application/json": models.get(route.operationId) as Model } }
          : {}),
      });
      if (route.auth === "public") acknowledgePublicMethod(method, route);
      methods.set(route.operationId, method);
    }
    this.methods = methods;
    [this.consoleFunction, this.consoleMethods] = this.addConsole(defaults, validator);

    for (const response of GATEWAY_ERROR_RESPONSES) {
      this.api.addGatewayResponse(`Gateway${response.type}`, {
        type: ResponseType.of(response.type),
        ...(response.statusCode === undefined ? {} : { statusCode: response.statusCode }),
        responseHeaders: { ...gatewayCorsHeaders(props.allowedOrigins), ...quoteHeaders(response.headers ?? {}) },
        templates: { "application/json": gatewayErrorTemplate(response) },
      });
    }
  }

  /** `GET /console` and `GET /console/{asset}` (DESIGN.md, "Admin console"), served by a function that reads nothing. */
  private addConsole(defaults: FunctionDefaults, validator: RequestValidator): [AppFunction, Method[]] {
    const fn = new AppFunction(this, "ConsoleFunction", {
      name: CONSOLE_FUNCTION,
      description: "The admin console: a static page and its files (it calls the public API with the person's key)",
      timeout: Duration.seconds(5),
      memorySize: 256,
      defaults,
    });
    const integration = new LambdaIntegration(fn.alias, { allowTestInvoke: false });
    const methods = CONSOLE_ROUTES.map((route) => {
      const method = this.api.root.resourceForPath(route.path).addMethod(route.method, integration, {
        authorizationType: AuthorizationType.NONE,
        requestValidator: validator,
        requestParameters: pathParameters(route),
      });
      Validations.of(method).acknowledge({
        id: "AwsSolutions-APIG4",
        reason: `${route.method} ${route.path} is the admin console's static files, public by design (DESIGN.md: Admin console): they hold no data, and every data call the page makes carries the API key the person types`,
      });
      return method;
    });
    return [fn, methods];
  }

  private apiFunction(id: string, name: ApiFunctionName, defaults: FunctionDefaults): AppFunction {
    return new AppFunction(this, id, { name, ...API_FUNCTION_SPECS[name], defaults });
  }

  private bodyModels(): Map<string, Model> {
    const models = new Map<string, Model>();
    for (const [operationId, body] of Object.entries(BODY_SCHEMAS)) {
      if (!ROUTES.some((route) => route.operationId === operationId)) {
        throw new Error(`rest-api.ts has a body schema for ${operationId}, which is not in shared/http/routes.ts`);
      }
      const objects = new Set(body.objects ?? []);
      models.set(
        operationId,
        this.api.addModel(`${operationId}Body`, {
          contentType: "application/json",
          modelName: `${operationId}Body`,
          schema: {
            schema: JsonSchemaVersion.DRAFT4,
            type: JsonSchemaType.OBJECT,
            required: body.required,
            properties: Object.fromEntries(
              body.required.map((field) => [
                field,
                objects.has(field) ? { type: JsonSchemaType.OBJECT } : { type: JsonSchemaType.STRING, minLength: 1 },
              ]),
            ),
          },
        }),
      );
    }
    return models;
  }
}

/** `{integrationId}` path segments become required method request parameters. */
function pathParameters(route: Pick<RouteDefinition, "path">): Record<string, boolean> {
  const names = [...route.path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1] as string);
  return Object.fromEntries(names.map((name) => [`method.request.path.${name}`, true]));
}

function acknowledgePublicMethod(method: Method, route: RouteDefinition): void {
  const reason = `${route.method} ${route.path} is public by design (DESIGN.md: health and the OpenAPI document need no API key) and returns no tenant data`;
  Validations.of(method).acknowledge({ id: "AwsSolutions-APIG4", reason });
}

function corsOptions(origins: readonly string[]): CorsOptions | undefined {
  if (origins.length === 0) return undefined;
  return {
    allowOrigins: origins.includes("*") ? Cors.ALL_ORIGINS : [...origins],
    allowMethods: [...new Set(ROUTES.map((route) => route.method))],
    allowHeaders: [...CORS_ALLOW_HEADERS],
    maxAge: Duration.seconds(CORS_MAX_AGE_SECONDS),
  };
}

/**
 * A gateway response's header value is a literal, not chosen per request, so the error responses can carry CORS only
 * when one origin (or `*`) is configured; with several, browsers see the status but not the body of these errors.
 */
function gatewayCorsHeaders(origins: readonly string[]): Record<string, string> {
  if (origins.length !== 1) return {};
  return quoteHeaders({ "Access-Control-Allow-Origin": origins[0] as string });
}

function quoteHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, `'${value}'`]));
}
