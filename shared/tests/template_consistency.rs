//! `template.yaml` held against the code, so a deployment cannot drift from what was tested:
//! - every directory under `functions/` is a function in the template and back, built for arm64
//!   with cargo-lambda, with its own log group, role and alarms;
//! - every API route (the route table and `docs/openapi.json`) is an HTTP API route behind the
//!   Cognito JWT authorizer, integrated with that route's function;
//! - every function's environment, evaluated for several deployments (public Jitsi, JaaS with an
//!   SSM SecureString, self-hosted Jitsi with a Secrets Manager secret), is accepted by the same
//!   typed config its cold start reads, and every variable the code reads is set somewhere;
//! - every function's policy allows exactly the actions of the adapters its `main.rs` wires
//!   (`medichain::adapters::aws::iam`), on this stack's resources, and that list matches the SDK
//!   calls in the adapters' source;
//! - the stream mapping, the reminder schedules' role and dead letters, the site's bucket,
//!   CloudFront routing, security headers (the local server's) and alarms are as documented.
//!
//! The template is evaluated offline by `cfn` (parameters, conditions, intrinsics); cfn-lint and
//! `sam validate --lint` in `infra/test.sh` check it against CloudFormation's own schemas.

mod cfn;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use cfn::{repo_path, scalar, strings, Stack, ACCOUNT, DISTRIBUTION_DOMAIN, REGION, STACK};
use medichain::adapters::aws::iam::{
    AdapterAccess, ADAPTERS, DYNAMODB_STORE, SNS_PUSH_REGISTRAR, SSM_PARAMETERS, WIRINGS,
};
use medichain::adapters::aws::table;
use medichain::config::reminders::{event_bus, sms_site_url, PushApps, ScheduleTarget};
use medichain::config::{self, AppConfig};
use serde_json::Value as J;

// ------------------------------------------------------------------ deployments under test

const AUTH_PREFIX: (&str, &str) = ("AuthDomainPrefix", "medichain-test-auth");

/// The parameters of `infra/samconfig.example.toml` (its `"Name=\"value\""` lines).
fn example_config_parameters() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo_path("infra/samconfig.example.toml"))
        .expect("infra/samconfig.example.toml");
    let params: Vec<(String, String)> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            l.strip_prefix('"')?
                .strip_suffix("\\\"\",")?
                .split_once("=\\\"")
        })
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert!(
        params.len() >= 5,
        "the example's parameter_overrides are read: {params:?}"
    );
    params
}

/// Deployments that together take every branch of the template's conditions, and the example
/// configuration.
fn deployments(t: &J) -> Vec<(&'static str, Stack<'_>)> {
    let example = example_config_parameters();
    let example: Vec<(&str, &str)> = example
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    vec![
        ("infra/samconfig.example.toml", Stack::new(t, &example)),
        ("defaults (public Jitsi, no push)", Stack::new(t, &[AUTH_PREFIX])),
        (
            "JaaS with an SSM SecureString, FCM push, a custom domain",
            Stack::new(
                t,
                &[
                    AUTH_PREFIX,
                    ("JitsiAuth", "jaas"),
                    ("JitsiDomain", "8x8.vc"),
                    ("JaasAppId", "vpaas-magic-cookie-0123456789abcdef"),
                    ("JaasKeyId", "4f4910"),
                    ("JitsiFeatures", "recording"),
                    ("JitsiSecretParameter", "/medichain/test/jaas-private-key"),
                    (
                        "FcmPlatformApplicationArn",
                        "arn:aws:sns:eu-west-1:123456789012:app/GCM/medichain",
                    ),
                    ("SiteDomainName", "care.example.org"),
                    (
                        "SiteCertificateArn",
                        "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d",
                    ),
                ],
            ),
        ),
        (
            "self-hosted Jitsi with a Secrets Manager secret under a customer key, APNs push",
            Stack::new(
                t,
                &[
                    AUTH_PREFIX,
                    ("JitsiAuth", "self_hosted"),
                    ("JitsiDomain", "meet.example.org"),
                    ("JitsiAppId", "medichain"),
                    (
                        "JitsiSecretParameter",
                        "/aws/reference/secretsmanager/medichain/jitsi-app-secret",
                    ),
                    (
                        "JitsiSecretKmsKeyArn",
                        "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                    ),
                    (
                        "ApnsPlatformApplicationArn",
                        "arn:aws:sns:eu-west-1:123456789012:app/APNS/medichain",
                    ),
                ],
            ),
        ),
    ]
}

// ------------------------------------------------------------------ the functions

struct Function<'t> {
    logical: String,
    /// Its directory under `functions/`, which is also its package and binary name.
    dir: String,
    resource: &'t J,
}

fn functions<'t>(stack: &Stack<'t>) -> Vec<Function<'t>> {
    stack
        .of_type("AWS::Serverless::Function")
        .into_iter()
        .map(|(logical, resource)| {
            let code = resource["Properties"]["CodeUri"]
                .as_str()
                .unwrap_or_else(|| panic!("{logical}: CodeUri is a path"));
            let dir = code
                .strip_prefix("functions/")
                .unwrap_or_else(|| panic!("{logical}: CodeUri {code} is not under functions/"))
                .trim_end_matches('/')
                .to_owned();
            Function {
                logical: logical.clone(),
                dir,
                resource,
            }
        })
        .collect()
}

fn function_by_dir<'t>(stack: &Stack<'t>, dir: &str) -> Function<'t> {
    functions(stack)
        .into_iter()
        .find(|f| f.dir == dir)
        .unwrap_or_else(|| panic!("the template has no function for functions/{dir}"))
}

/// Directory name → package name, for every `functions/*/Cargo.toml`.
fn function_dirs() -> BTreeMap<String, String> {
    let mut dirs = BTreeMap::new();
    for entry in std::fs::read_dir(repo_path("functions")).expect("functions/") {
        let path = entry.unwrap().path();
        let manifest = path.join("Cargo.toml");
        if !manifest.exists() {
            continue;
        }
        let text = std::fs::read_to_string(&manifest).unwrap();
        let name = text
            .lines()
            .find_map(|l| {
                let l = l.trim();
                l.strip_prefix("name").map(|r| {
                    r.trim_start()
                        .trim_start_matches('=')
                        .trim()
                        .trim_matches('"')
                })
            })
            .unwrap_or_else(|| panic!("{} has a package name", manifest.display()))
            .to_owned();
        let dir = path.file_name().unwrap().to_string_lossy().into_owned();
        dirs.insert(dir, name);
    }
    dirs
}

fn main_rs(dir: &str) -> String {
    std::fs::read_to_string(repo_path(&format!("functions/{dir}/src/main.rs")))
        .unwrap_or_else(|_| panic!("functions/{dir}/src/main.rs"))
}

fn squeeze(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The adapters a function's `main.rs` wires, through the calls listed in `iam::WIRINGS`.
fn wired_adapters(dir: &str) -> Vec<&'static AdapterAccess> {
    let code = squeeze(&main_rs(dir));
    let mut adapters: Vec<&'static AdapterAccess> = Vec::new();
    let mut matched = false;
    for wiring in WIRINGS {
        if code.contains(&squeeze(wiring.call)) {
            matched = true;
            for a in wiring.adapters {
                if !adapters.iter().any(|x| std::ptr::eq(*x, *a)) {
                    adapters.push(a);
                }
            }
        }
    }
    assert!(
        matched,
        "functions/{dir}/src/main.rs builds its adapters in a way medichain::adapters::aws::iam::WIRINGS \
         does not list: add the call there with the adapters it wires, and grant their actions in \
         template.yaml"
    );
    adapters
}

// ------------------------------------------------------------------ IAM

#[derive(Debug, Clone)]
struct Grant {
    actions: Vec<String>,
    resources: Vec<String>,
    condition: J,
}

/// The Allow statements of a role, evaluated for this deployment.
fn role_grants(stack: &Stack<'_>, role: &str) -> Vec<Grant> {
    let r = stack.resource(role);
    assert_eq!(r["Type"], "AWS::IAM::Role", "{role} is a role");
    assert!(
        r["Properties"].get("ManagedPolicyArns").is_none(),
        "{role}: managed policies grant more than the adapters need"
    );
    let policies = stack.eval(&r["Properties"]["Policies"]).unwrap_or(J::Null);
    let mut grants = Vec::new();
    for policy in policies.as_array().into_iter().flatten() {
        for st in policy["PolicyDocument"]["Statement"]
            .as_array()
            .into_iter()
            .flatten()
        {
            assert_eq!(st["Effect"], "Allow", "{role}: only Allow statements");
            assert!(
                st.get("NotAction").is_none() && st.get("NotResource").is_none(),
                "{role}: no NotAction/NotResource"
            );
            grants.push(Grant {
                actions: strings(&st["Action"]),
                resources: strings(&st["Resource"]),
                condition: st.get("Condition").cloned().unwrap_or(J::Null),
            });
        }
    }
    grants
}

fn function_role(f: &Function<'_>) -> String {
    let role = &f.resource["Properties"]["Role"]["Fn::GetAtt"];
    assert_eq!(
        role[1], "Arn",
        "{}: Role is !GetAtt <its role>.Arn (SAM then adds no policy of its own)",
        f.logical
    );
    assert!(
        f.resource["Properties"].get("Policies").is_none(),
        "{}: permissions live in its role",
        f.logical
    );
    role[0].as_str().unwrap().to_owned()
}

fn resources_of(grants: &[Grant], action: &str) -> BTreeSet<String> {
    grants
        .iter()
        .filter(|g| g.actions.iter().any(|a| a == action))
        .flat_map(|g| g.resources.iter().cloned())
        .collect()
}

fn set<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> BTreeSet<String> {
    items.into_iter().map(Into::into).collect()
}

const STREAM_ACTIONS: &[&str] = &[
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
];
const LOG_ACTIONS: &[&str] = &["logs:CreateLogStream", "logs:PutLogEvents"];

/// The queues a function's triggers deliver failures to: the stream mapping's on-failure
/// destination and the asynchronous invocations' on-failure destination.
fn failure_destinations(stack: &Stack<'_>, f: &Function<'_>) -> BTreeSet<String> {
    let mut queues = BTreeSet::new();
    for event in stream_events(f) {
        queues.insert(
            stack.eval_str(&event["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]),
        );
    }
    let on_failure =
        &f.resource["Properties"]["EventInvokeConfig"]["DestinationConfig"]["OnFailure"];
    if !on_failure.is_null() {
        assert_eq!(on_failure["Type"], "SQS");
        queues.insert(stack.eval_str(&on_failure["Destination"]));
    }
    queues
}

fn stream_events<'a>(f: &'a Function<'_>) -> Vec<&'a J> {
    f.resource["Properties"]["Events"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, e)| e)
        .filter(|e| e["Type"] == "DynamoDB")
        .collect()
}

fn lookup(env: &BTreeMap<String, String>) -> impl Fn(&str) -> Option<String> + '_ {
    move |name| env.get(name).cloned()
}

// ------------------------------------------------------------------ tests: functions

#[test]
fn every_function_directory_is_a_function_in_the_template_and_back() {
    let t = cfn::template();
    let stack = Stack::new(&t, &[AUTH_PREFIX]);
    let dirs = function_dirs();
    let declared: BTreeSet<String> = functions(&stack).iter().map(|f| f.dir.clone()).collect();
    let existing: BTreeSet<String> = dirs.keys().cloned().collect();
    assert_eq!(
        declared, existing,
        "template.yaml must declare exactly the functions under functions/ (left: template, right: directories)"
    );

    let globals = &t["Globals"]["Function"];
    for f in functions(&stack) {
        let props = &f.resource["Properties"];
        assert_eq!(
            f.resource["Metadata"]["BuildMethod"], "rust-cargolambda",
            "{}",
            f.logical
        );
        assert_eq!(
            f.resource["Metadata"]["BuildProperties"]["Binary"], dirs[&f.dir],
            "{}: BuildProperties.Binary is the package name",
            f.logical
        );
        assert_eq!(
            dirs[&f.dir], f.dir,
            "the package is named after its directory"
        );
        assert_eq!(
            stack.eval_str(&props["FunctionName"]),
            format!("{STACK}-{}", f.dir),
            "{}: FunctionName is <stack>-<directory>",
            f.logical
        );
        assert_eq!(
            stack.function_property(f.resource, "Runtime"),
            Some(J::from("provided.al2023"))
        );
        assert_eq!(
            stack.function_property(f.resource, "Architectures"),
            Some(serde_json::json!(["arm64"]))
        );
        assert_eq!(
            stack.function_property(f.resource, "Handler"),
            Some(J::from("bootstrap"))
        );
        let memory = stack
            .function_property(f.resource, "MemorySize")
            .and_then(|m| m.as_u64())
            .unwrap_or_else(|| panic!("{}: MemorySize is set", f.logical));
        assert!((128..=1024).contains(&memory), "{}: {memory} MB", f.logical);
        assert!(stack.function_property(f.resource, "Timeout").is_some());

        // JSON logs into its own group, with a retention.
        let logging = stack
            .function_property(f.resource, "LoggingConfig")
            .unwrap();
        assert_eq!(logging["LogFormat"], "JSON", "{}", f.logical);
        assert!(!logging["ApplicationLogLevel"].is_null());
        let group = logging["LogGroup"]["Ref"].as_str().unwrap_or_else(|| {
            panic!(
                "{}: LoggingConfig.LogGroup is !Ref <its log group>",
                f.logical
            )
        });
        let g = stack.resource(group);
        assert_eq!(g["Type"], "AWS::Logs::LogGroup");
        assert_eq!(
            stack.eval_str(&g["Properties"]["LogGroupName"]),
            format!("/aws/lambda/{STACK}-{}", f.dir)
        );
        assert!(
            !g["Properties"]["RetentionInDays"].is_null(),
            "{group} has a retention"
        );

        // Errors and throttles alarm the ops topic.
        for metric in ["Errors", "Throttles"] {
            let alarms: Vec<_> = stack
                .of_type("AWS::CloudWatch::Alarm")
                .into_iter()
                .filter(|(_, a)| {
                    let p = &a["Properties"];
                    p["Namespace"] == "AWS/Lambda"
                        && p["MetricName"] == metric
                        && p["Dimensions"][0]["Value"]["Ref"] == f.logical.as_str()
                })
                .collect();
            assert_eq!(alarms.len(), 1, "{}: one {metric} alarm", f.logical);
            assert_eq!(
                alarms[0].1["Properties"]["AlarmActions"][0]["Ref"],
                "OpsTopic"
            );
        }
    }
    assert!(globals["Environment"]["Variables"].is_object());
}

#[test]
fn every_api_route_is_an_authorized_http_api_route_to_its_function() {
    let t = cfn::template();
    let stack = Stack::new(&t, &[AUTH_PREFIX]);
    let openapi: J = serde_json::from_str(
        &std::fs::read_to_string(repo_path("docs/openapi.json")).expect("docs/openapi.json"),
    )
    .unwrap();
    let documented: BTreeSet<String> = openapi["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|m| ["get", "put", "post", "delete", "patch"].contains(&m.as_str()))
                .map(move |m| format!("{} {path}", m.to_uppercase()))
        })
        .collect();
    let table: BTreeMap<String, &'static str> = medichain::api::routes::all()
        .iter()
        .map(|r| (format!("{} {}", r.method, r.path), r.function))
        .collect();
    assert_eq!(
        documented,
        table.keys().cloned().collect(),
        "docs/openapi.json and the route table disagree"
    );

    let routes = stack.of_type("AWS::ApiGatewayV2::Route");
    let declared: BTreeSet<String> = routes
        .iter()
        .map(|(_, r)| scalar(&r["Properties"]["RouteKey"]))
        .collect();
    assert_eq!(
        declared, documented,
        "template.yaml must route exactly the documented API (left: template, right: OpenAPI)"
    );

    let authorizer = stack.resource("HttpApiAuthorizer");
    assert_eq!(authorizer["Properties"]["AuthorizerType"], "JWT");
    let jwt = &authorizer["Properties"]["JwtConfiguration"];
    assert_eq!(jwt["Audience"][0]["Ref"], "UserPoolClient");
    assert_eq!(
        stack.eval_str(&jwt["Issuer"]),
        format!("https://cognito-idp.{REGION}.amazonaws.com/{REGION}_TestPool1")
    );

    let api_id = stack.eval_str(&serde_json::json!({"Ref": "HttpApi"}));
    for (logical, route) in routes {
        let p = &route["Properties"];
        let key = scalar(&p["RouteKey"]);
        let (method, path) = key.split_once(' ').unwrap();
        assert_eq!(p["ApiId"]["Ref"], "HttpApi", "{logical}");
        assert_eq!(
            p["AuthorizationType"], "JWT",
            "{logical}: {key} needs a signed-in user"
        );
        assert_eq!(p["AuthorizerId"]["Ref"], "HttpApiAuthorizer", "{logical}");
        let target = stack.eval_str(&p["Target"]);
        let integration_id = target
            .strip_prefix("integrations/")
            .unwrap_or_else(|| panic!("{logical}: Target is integrations/<id>"));
        let (integration_logical, integration) = stack
            .of_type("AWS::ApiGatewayV2::Integration")
            .into_iter()
            .find(|(l, _)| format!("{l}-id") == integration_id)
            .unwrap_or_else(|| panic!("{logical}: its integration exists"));
        let ip = &integration["Properties"];
        assert_eq!(ip["IntegrationType"], "AWS_PROXY", "{integration_logical}");
        assert_eq!(ip["PayloadFormatVersion"], "2.0", "{integration_logical}");
        let function_logical = ip["IntegrationUri"]["Fn::GetAtt"][0].as_str().unwrap();
        let f = functions(&stack)
            .into_iter()
            .find(|f| f.logical == function_logical)
            .unwrap();
        assert_eq!(
            f.dir, table[&key],
            "{key} must reach the function the route table names"
        );
        // API Gateway may invoke it, for this route only.
        let wanted = format!(
            "arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/*/{method}{}",
            path.split('/')
                .map(|s| if s.starts_with('{') { "*" } else { s })
                .collect::<Vec<_>>()
                .join("/")
        );
        let permissions: Vec<String> = stack
            .of_type("AWS::Lambda::Permission")
            .into_iter()
            .filter(|(_, perm)| perm["Properties"]["FunctionName"]["Ref"] == function_logical)
            .map(|(_, perm)| {
                assert_eq!(perm["Properties"]["Principal"], "apigateway.amazonaws.com");
                stack.eval_str(&perm["Properties"]["SourceArn"])
            })
            .collect();
        assert_eq!(
            permissions,
            vec![wanted],
            "{function_logical}: invoke permission"
        );
    }

    // Functions that serve no route are triggers the template wires otherwise.
    for f in functions(&stack) {
        if table.values().any(|name| *name == f.dir) {
            continue;
        }
        let scheduled = stack
            .environment(function_by_dir(&stack, "appointment-events").resource)
            .get("REMINDER_FUNCTION_ARN")
            == Some(&stack.attribute(&f.logical, "Arn"));
        assert!(
            !stream_events(&f).is_empty() || scheduled,
            "{} serves no route and has no trigger in the template",
            f.dir
        );
    }
}

#[test]
fn function_environments_are_what_their_cold_start_reads() {
    let t = cfn::template();
    for (name, stack) in deployments(&t) {
        let table = stack.eval_str(&serde_json::json!({"Ref": "AppTable"}));
        let site = if stack.condition("HasSiteDomain") {
            format!("https://{}", stack.params["SiteDomainName"])
        } else {
            format!("https://{DISTRIBUTION_DOMAIN}")
        };
        for f in functions(&stack) {
            let env = stack.environment(f.resource);
            let get = lookup(&env);
            let app = AppConfig::from_lookup(&get).unwrap_or_else(|e| {
                panic!("{name}: {}: the config refuses its environment: {e}", f.dir)
            });
            assert_eq!(config::required(&get, "TABLE_NAME").unwrap(), table);
            assert_eq!(app.site_url, site, "{name}: {}", f.dir);
            assert_eq!(
                app.jitsi.domain(),
                stack.params["JitsiDomain"],
                "{name}: {}",
                f.dir
            );
            assert_eq!(
                app.jitsi_auth.mode(),
                stack.params["JitsiAuth"],
                "{name}: {}",
                f.dir
            );
            let code = squeeze(&main_rs(&f.dir));
            if code.contains("push_api_deps()") {
                let apps = PushApps::from_lookup(&get).unwrap();
                assert_eq!(
                    apps.apns.is_some(),
                    stack.condition("HasApns"),
                    "{name}: {}",
                    f.dir
                );
                assert_eq!(
                    apps.fcm.is_some(),
                    stack.condition("HasFcm"),
                    "{name}: {}",
                    f.dir
                );
            }
            if code.contains("effect_deps(") {
                sms_site_url(&app).unwrap_or_else(|e| panic!("{name}: {}: {e}", f.dir));
            }
            if code.contains("EffectFunction::AppointmentEvents") {
                assert_eq!(
                    event_bus(&get).unwrap(),
                    stack.eval_str(&serde_json::json!({"Ref": "EventBus"}))
                );
                let target = ScheduleTarget::from_lookup(&get)
                    .unwrap_or_else(|e| panic!("{name}: appointment-events: {e}"));
                let reminder = function_by_dir(&stack, "send-reminder");
                assert_eq!(
                    target.function_arn,
                    stack.attribute(&reminder.logical, "Arn"),
                    "the schedules target send-reminder"
                );
                assert_eq!(
                    target.role_arn,
                    stack.attribute("ReminderSchedulerRole", "Arn")
                );
                assert_eq!(
                    target.dead_letter_arn,
                    stack.attribute("ReminderDeadLetterQueue", "Arn")
                );
                assert_eq!(
                    target.group,
                    stack.eval_str(&serde_json::json!({"Ref": "ReminderScheduleGroup"}))
                );
            } else {
                // Only the stream consumer schedules and publishes domain events; a setting of
                // theirs anywhere else is a permission or a client that function never uses.
                let theirs: Vec<_> = ONLY_APPOINTMENT_EVENTS
                    .iter()
                    .filter(|k| env.contains_key(**k))
                    .collect();
                assert!(
                    theirs.is_empty(),
                    "{name}: {} sets {theirs:?}, which only appointment-events reads",
                    f.dir
                );
            }
            for (k, v) in &env {
                assert!(
                    !v.trim().is_empty() || k == "JITSI_FEATURES" || k == "JITSI_TOKEN_AUDIENCE",
                    "{name}: {}: {k} is set but empty",
                    f.dir
                );
            }
        }
    }
}

/// The settings of what only `appointment-events` wires: its schedules and the event bus.
const ONLY_APPOINTMENT_EVENTS: &[&str] = &[
    "EVENT_BUS_NAME",
    "SCHEDULE_GROUP",
    "REMINDER_FUNCTION_ARN",
    "SCHEDULER_ROLE_ARN",
    "REMINDER_DLQ_ARN",
];

/// Variables the code reads that no function gets, each with the reason.
const NOT_SET_IN_AWS: &[(&str, &str)] = &[
    (
        "RUST_LOG",
        "an override for local runs; functions take AWS_LAMBDA_LOG_LEVEL",
    ),
    (
        "AWS_LAMBDA_LOG_LEVEL",
        "set by Lambda itself from LoggingConfig.ApplicationLogLevel",
    ),
    (
        "JAAS_PRIVATE_KEY",
        "inline secrets are for local runs; AWS reads JAAS_PRIVATE_KEY_PARAMETER",
    ),
    (
        "JAAS_PRIVATE_KEY_FILE",
        "key files are for local runs; AWS reads JAAS_PRIVATE_KEY_PARAMETER",
    ),
    (
        "JITSI_APP_SECRET",
        "inline secrets are for local runs; AWS reads JITSI_APP_SECRET_PARAMETER",
    ),
    (
        "JITSI_APP_SECRET_FILE",
        "secret files are for local runs; AWS reads JITSI_APP_SECRET_PARAMETER",
    ),
    (
        "AWS_ENDPOINT_URL",
        "a local endpoint (moto); in AWS the SDK's defaults apply",
    ),
    (
        "AWS_ENDPOINT_URL_DYNAMODB",
        "a local endpoint (moto); in AWS the SDK's defaults apply",
    ),
    // Lambda's reserved variables, which adapters::aws::sdk_config reads instead of linking
    // aws-config's whole credential chain.
    ("AWS_REGION", "set by Lambda itself: the function's region"),
    (
        "AWS_DEFAULT_REGION",
        "set by Lambda itself: the function's region",
    ),
    (
        "AWS_ACCESS_KEY_ID",
        "set by Lambda itself: the function role's credentials",
    ),
    (
        "AWS_SECRET_ACCESS_KEY",
        "set by Lambda itself: the function role's credentials",
    ),
    (
        "AWS_SESSION_TOKEN",
        "set by Lambda itself: the function role's credentials",
    ),
];

#[test]
fn every_variable_the_code_reads_is_set_or_local_only_and_none_is_set_in_vain() {
    let read = env_vars_read_by_shared_code();
    assert!(
        read.contains("TABLE_NAME") && read.contains("JITSI_AUTH"),
        "the scan finds the config's reads: {read:?}"
    );
    let t = cfn::template();
    let mut set_somewhere = BTreeSet::new();
    for (_, stack) in deployments(&t) {
        for f in functions(&stack) {
            set_somewhere.extend(stack.environment(f.resource).into_keys());
        }
    }
    let local_only: BTreeSet<String> = NOT_SET_IN_AWS
        .iter()
        .map(|(k, _)| (*k).to_owned())
        .collect();
    let missing: Vec<_> = read
        .iter()
        .filter(|v| !set_somewhere.contains(*v) && !local_only.contains(*v))
        .collect();
    assert!(
        missing.is_empty(),
        "the code reads {missing:?} but no function in template.yaml sets it (set it, or add it to \
         NOT_SET_IN_AWS with the reason)"
    );
    let unread: Vec<_> = set_somewhere
        .iter()
        .filter(|v| !read.contains(*v))
        .collect();
    assert!(
        unread.is_empty(),
        "template.yaml sets {unread:?}, which no code reads"
    );
    let wrongly_local: Vec<_> = local_only.intersection(&set_somewhere).collect();
    assert!(
        wrongly_local.is_empty(),
        "{wrongly_local:?} are set in AWS after all"
    );
}

/// Names of environment variables the library reads: the literal arguments of `get("X")`,
/// `required(&get, "X")`, `arn(&get, "X")`, `optional("X")`, `env::var("X")` and the three
/// names of `SecretSource::from_lookup(get, "X", "X_FILE", "X_PARAMETER")`, outside tests.
fn env_vars_read_by_shared_code() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for path in rust_files(&repo_path("shared/src")) {
        let text = without_tests(&std::fs::read_to_string(&path).unwrap());
        for (offset, literal) in string_literals(&text) {
            if literal.len() < 3
                || !literal.starts_with(|c: char| c.is_ascii_uppercase())
                || !literal
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            {
                continue;
            }
            let before = squeeze(&text[offset.saturating_sub(160)..offset]);
            let direct = [
                "get(",
                "required(get,",
                "required(&get,",
                "arn(&get,",
                "arn(get,",
                "optional(",
                "env::var(",
            ]
            .iter()
            .any(|p| before.ends_with(p));
            let secret_source = before
                .rsplit_once("SecretSource::from_lookup(")
                .is_some_and(|(_, args)| !args.contains(')'));
            if direct || secret_source {
                names.insert(literal);
            }
        }
    }
    names
}

fn rust_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The text before the first `#[cfg(test)]` (test modules sit at the end of a file here).
fn without_tests(text: &str) -> String {
    text.split("#[cfg(test)]").next().unwrap().to_owned()
}

/// Each `"..."` literal with the offset of its opening quote (no raw strings needed here).
fn string_literals(text: &str) -> Vec<(usize, String)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'\'' => {
                // A char literal such as '"' or '\'' (or a lifetime, which has no closing quote
                // within three bytes).
                if bytes.get(i + 2) == Some(&b'\'') {
                    i += 3;
                } else if bytes.get(i + 1) == Some(&b'\\') && bytes.get(i + 3) == Some(&b'\'') {
                    i += 4;
                } else {
                    i += 1;
                }
            }
            b'"' => {
                let start = i;
                let mut value = String::new();
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                        match bytes.get(i) {
                            Some(b'\n') => {
                                while i + 1 < bytes.len() && bytes[i + 1].is_ascii_whitespace() {
                                    i += 1;
                                }
                            }
                            Some(b'n') => value.push('\n'),
                            Some(&c) => value.push(c as char),
                            None => {}
                        }
                    } else {
                        let ch_len = utf8_len(bytes[i]);
                        value.push_str(&text[i..i + ch_len]);
                        i += ch_len - 1;
                    }
                    i += 1;
                }
                out.push((start, value));
                i += 1;
            }
            _ => i += 1,
        }
    }
    out
}

fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

// ------------------------------------------------------------------ tests: IAM

#[test]
fn function_policies_allow_exactly_what_their_adapters_call_on_this_stacks_resources() {
    let t = cfn::template();
    for (name, stack) in deployments(&t) {
        let table_arn = stack.attribute("AppTable", "Arn");
        for f in functions(&stack) {
            let role = function_role(&f);
            let grants = role_grants(&stack, &role);
            let env = stack.environment(f.resource);
            let get = lookup(&env);
            let app = AppConfig::from_lookup(&get).unwrap();
            let secrets = app.secret_parameters();
            let push = PushApps::from_lookup(&get).unwrap_or_default();

            let mut required: BTreeSet<String> = set(LOG_ACTIONS.iter().copied());
            let mut may: BTreeSet<String> = BTreeSet::new();
            for adapter in wired_adapters(&f.dir) {
                // Registration without a platform application, and token auth without an SSM
                // secret, stop before any SDK call: the template then grants nothing for them.
                let used = if std::ptr::eq(adapter, &SNS_PUSH_REGISTRAR) {
                    push.apns.is_some() || push.fcm.is_some()
                } else if std::ptr::eq(adapter, &SSM_PARAMETERS) {
                    !secrets.is_empty()
                } else {
                    true
                };
                if used {
                    required.extend(adapter.actions.iter().map(|a| (*a).to_owned()));
                    may.extend(adapter.implied.iter().map(|a| (*a).to_owned()));
                }
            }
            if !stream_events(&f).is_empty() {
                required.extend(STREAM_ACTIONS.iter().map(|a| (*a).to_owned()));
            }
            let destinations = failure_destinations(&stack, &f);
            if !destinations.is_empty() {
                required.insert("sqs:SendMessage".into());
            }

            let allowed: BTreeSet<String> = grants
                .iter()
                .flat_map(|g| g.actions.iter().cloned())
                .collect();
            let lacking: Vec<_> = required.difference(&allowed).collect();
            assert!(
                lacking.is_empty(),
                "{name}: {} ({role}) lacks {lacking:?}",
                f.dir
            );
            let extra: Vec<_> = allowed
                .iter()
                .filter(|a| !required.contains(*a) && !may.contains(*a))
                .collect();
            assert!(
                extra.is_empty(),
                "{name}: {} ({role}) allows {extra:?}, which none of its adapters calls",
                f.dir
            );

            // Every grant names this stack's resources; only SMS publishing cannot.
            for g in &grants {
                assert!(
                    g.actions.iter().all(|a| !a.contains('*')),
                    "{role}: wildcard action"
                );
                if g.resources.iter().any(|r| r == "*") {
                    assert_eq!(
                        g.actions,
                        vec!["sns:Publish".to_owned()],
                        "{role}: only sns:Publish may have Resource *"
                    );
                }
            }
            let own_logs = stack.attribute(
                f.resource["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
                    .as_str()
                    .unwrap(),
                "Arn",
            );
            for action in LOG_ACTIONS {
                assert_eq!(
                    resources_of(&grants, action),
                    set([own_logs.clone()]),
                    "{role}: {action}"
                );
            }
            for action in DYNAMODB_STORE.actions {
                if allowed.contains(*action) {
                    assert_eq!(
                        resources_of(&grants, action),
                        set([table_arn.clone(), format!("{table_arn}/index/*")]),
                        "{role}: {action}"
                    );
                }
            }
            for action in STREAM_ACTIONS {
                if allowed.contains(*action) {
                    assert_eq!(
                        resources_of(&grants, action),
                        set([format!("{table_arn}/stream/*")])
                    );
                }
            }
            if allowed.contains("sqs:SendMessage") {
                assert_eq!(
                    resources_of(&grants, "sqs:SendMessage"),
                    destinations,
                    "{role}"
                );
            }
            for action in ["scheduler:CreateSchedule", "scheduler:DeleteSchedule"] {
                if allowed.contains(action) {
                    let group =
                        stack.eval_str(&serde_json::json!({"Ref": "ReminderScheduleGroup"}));
                    assert_eq!(
                        resources_of(&grants, action),
                        set([format!(
                            "arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/{group}/*"
                        )])
                    );
                }
            }
            if allowed.contains("scheduler:CreateSchedule") {
                let pass: Vec<_> = grants
                    .iter()
                    .filter(|g| g.actions.contains(&"iam:PassRole".to_owned()))
                    .collect();
                assert_eq!(
                    pass.len(),
                    1,
                    "{role}: CreateSchedule hands Scheduler its role (iam:PassRole)"
                );
                assert_eq!(
                    pass[0].resources,
                    vec![stack.attribute("ReminderSchedulerRole", "Arn")]
                );
                assert_eq!(
                    pass[0].condition["StringEquals"]["iam:PassedToService"],
                    "scheduler.amazonaws.com"
                );
            }
            if allowed.contains("events:PutEvents") {
                assert_eq!(
                    resources_of(&grants, "events:PutEvents"),
                    set([stack.attribute("EventBus", "Arn")])
                );
            }
            if allowed.contains("sns:CreatePlatformEndpoint") {
                let apps: BTreeSet<String> =
                    push.apns.iter().chain(push.fcm.iter()).cloned().collect();
                assert_eq!(
                    resources_of(&grants, "sns:CreatePlatformEndpoint"),
                    apps,
                    "{name}: {role}"
                );
                let endpoints: BTreeSet<String> = apps
                    .iter()
                    .map(|a| format!("{}/*", a.replacen(":app/", ":endpoint/", 1)))
                    .collect();
                for action in ["sns:DeleteEndpoint", "sns:SetEndpointAttributes"] {
                    assert_eq!(
                        resources_of(&grants, action),
                        endpoints,
                        "{name}: {role}: {action}"
                    );
                }
            }
            if allowed.contains("ssm:GetParameter") {
                let arns: BTreeSet<String> = secrets
                    .iter()
                    .map(|p| format!("arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{p}"))
                    .collect();
                assert_eq!(
                    resources_of(&grants, "ssm:GetParameter"),
                    arns,
                    "{name}: {role}"
                );
                let via_secrets_manager: Vec<&str> = secrets
                    .iter()
                    .filter_map(|p| p.strip_prefix("/aws/reference/secretsmanager/"))
                    .collect();
                let want: BTreeSet<String> = via_secrets_manager
                    .iter()
                    .map(|id| {
                        format!("arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{id}-??????")
                    })
                    .collect();
                assert_eq!(
                    resources_of(&grants, "secretsmanager:GetSecretValue"),
                    want,
                    "{name}: {role}"
                );
                let key = stack.params["JitsiSecretKmsKeyArn"].clone();
                let want: BTreeSet<String> = (!key.is_empty()).then_some(key).into_iter().collect();
                assert_eq!(resources_of(&grants, "kms:Decrypt"), want, "{name}: {role}");
            } else {
                for implied in SSM_PARAMETERS.implied {
                    assert!(
                        !allowed.contains(*implied),
                        "{name}: {role} allows {implied} without reading a secret"
                    );
                }
            }
        }
    }
}

#[test]
fn the_iam_list_matches_the_sdk_calls_in_the_adapters_source() {
    let dir = repo_path("shared/src/adapters/aws");
    let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new(); // source key -> actions
    let mut local_only_checked = Vec::new();
    let mut transaction_items: BTreeSet<String> = BTreeSet::new();
    let mut transactions_in: Vec<String> = Vec::new();
    for path in rust_files(&dir) {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        if file == "iam.rs" {
            continue;
        }
        let text = without_tests(&std::fs::read_to_string(&path).unwrap());
        let service = service_of(&file, &text);
        for item in ["Put", "Update", "Delete", "ConditionCheck"] {
            let built = text
                .match_indices(&format!("{item}::builder()"))
                .any(|(at, _)| !text[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_'));
            if built && service == Some("dynamodb") {
                transaction_items.insert(match item {
                    "ConditionCheck" => "dynamodb:ConditionCheckItem".to_owned(),
                    other => format!("dynamodb:{other}Item"),
                });
            }
        }
        for (offset, op) in sdk_calls(&text) {
            let service = service.unwrap_or_else(|| {
                panic!("{file} calls `{op}` but names no aws_sdk_* crate and is not part of DynamoDbStore")
            });
            if op == "transact_write_items" {
                transactions_in.push(file.clone());
                continue;
            }
            let action = format!("{service}:{}", pascal(&op));
            let key = match enclosing_trait(&text, offset) {
                Some(t)
                    if ADAPTERS
                        .iter()
                        .any(|a| a.sources.contains(&format!("{file}#{t}").as_str())) =>
                {
                    format!("{file}#{t}")
                }
                _ => file.clone(),
            };
            if ADAPTERS
                .iter()
                .any(|a| a.local_only.contains(&action.as_str()))
            {
                local_only_checked.push((
                    file.clone(),
                    enclosing_fn(&text, offset),
                    action.clone(),
                ));
            }
            found.entry(key).or_default().insert(action);
        }
    }
    // The transaction's items are authorised as their own actions, on DynamoDbStore's sources.
    if !transactions_in.is_empty() {
        assert!(
            !transaction_items.is_empty(),
            "TransactWriteItems with no Put/Update/Delete/ConditionCheck found"
        );
        found
            .entry(transactions_in[0].clone())
            .or_default()
            .extend(transaction_items.iter().cloned());
    }
    for (file, function, action) in &local_only_checked {
        // In a `*_if_missing` helper, or in a helper only such helpers call.
        let text = without_tests(&std::fs::read_to_string(dir.join(file)).unwrap());
        let callers: BTreeSet<String> = text
            .match_indices(&format!("{function}("))
            .filter(|(at, _)| !text[..*at].ends_with("fn "))
            .map(|(at, _)| enclosing_fn(&text, at))
            .collect();
        let provisioning = function.ends_with("_if_missing")
            || (!callers.is_empty() && callers.iter().all(|c| c.ends_with("_if_missing")));
        assert!(
            provisioning,
            "{file}: {action} is listed as local-only but `{function}` (called from {callers:?}) is not an *_if_missing helper"
        );
    }

    for (source, actions) in &found {
        let owners: Vec<&&AdapterAccess> = ADAPTERS
            .iter()
            .filter(|a| a.sources.contains(&source.as_str()))
            .collect();
        assert!(
            !owners.is_empty(),
            "{source} makes SDK calls {actions:?} but no adapter in medichain::adapters::aws::iam lists it as a source"
        );
        let listed: BTreeSet<String> = owners
            .iter()
            .flat_map(|a| a.actions.iter().chain(a.local_only.iter()))
            .map(|a| (*a).to_owned())
            .collect();
        let unlisted: Vec<_> = actions.iter().filter(|a| !listed.contains(*a)).collect();
        assert!(
            unlisted.is_empty(),
            "{source} calls {unlisted:?}: add them to its adapter in medichain::adapters::aws::iam and grant them in template.yaml"
        );
    }
    for adapter in ADAPTERS {
        let called: BTreeSet<String> = adapter
            .sources
            .iter()
            .filter_map(|s| found.get(*s))
            .flatten()
            .cloned()
            .collect();
        for action in adapter.actions.iter().chain(adapter.local_only) {
            assert!(
                called.contains(*action),
                "{}: {action} is listed but no SDK call in {:?} needs it (stale permission)",
                adapter.adapter,
                adapter.sources
            );
        }
    }
    // Every wiring is used by some function, so none is stale either.
    let mains: Vec<String> = function_dirs()
        .keys()
        .map(|d| squeeze(&main_rs(d)))
        .collect();
    for wiring in WIRINGS {
        assert!(
            mains.iter().any(|m| m.contains(&squeeze(wiring.call))),
            "no function calls {}: remove it from iam::WIRINGS",
            wiring.call
        );
    }
}

/// The IAM service prefix of the SDK client a file calls.
fn service_of(file: &str, text: &str) -> Option<&'static str> {
    let crates = [
        ("aws_sdk_dynamodb", "dynamodb"),
        ("aws_sdk_scheduler", "scheduler"),
        ("aws_sdk_sns", "sns"),
        ("aws_sdk_eventbridge", "events"),
        ("aws_sdk_ssm", "ssm"),
        ("aws_sdk_secretsmanager", "secretsmanager"),
    ];
    let named: Vec<&'static str> = crates
        .iter()
        .filter(|(c, _)| text.contains(c))
        .map(|(_, s)| *s)
        .collect();
    match named.as_slice() {
        [one] => Some(one),
        [] if text.contains("DynamoDbStore") => Some("dynamodb"),
        [] => None,
        many => panic!("{file} uses several SDK crates {many:?}: split it, or teach this test which calls go where"),
    }
}

/// `(offset, operation)` for each `client.<operation>(` (whitespace allowed around the dot).
fn sdk_calls(text: &str) -> Vec<(usize, String)> {
    let mut calls = Vec::new();
    let mut from = 0;
    while let Some(pos) = text[from..].find("client") {
        let at = from + pos;
        from = at + "client".len();
        let before_ok = at == 0
            || !text[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_');
        if !before_ok {
            continue;
        }
        let rest = text[from..].trim_start();
        let Some(rest) = rest.strip_prefix('.') else {
            continue;
        };
        let rest = rest.trim_start();
        let op: String = rest
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        if op.is_empty() || op == "clone" || op == "config" {
            continue;
        }
        if rest[op.len()..].trim_start().starts_with('(') {
            calls.push((at, op));
        }
    }
    calls
}

fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The trait of the `impl Trait for X` block around `offset`, if that block is a trait impl.
fn enclosing_trait(text: &str, offset: usize) -> Option<String> {
    let head = &text[..offset];
    let start = head.rfind("\nimpl")?;
    let line = head[start + 1..].lines().next()?;
    let (before_for, _) = line.split_once(" for ")?;
    let name = before_for.trim_start_matches("impl").trim();
    let name = name.rsplit("::").next()?.trim_start_matches('<');
    Some(name.split('<').next()?.trim().to_owned())
}

fn enclosing_fn(text: &str, offset: usize) -> String {
    let head = &text[..offset];
    let start = head.rfind("fn ").map(|i| i + 3).unwrap_or(0);
    head[start..]
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

// ------------------------------------------------------------------ tests: triggers

#[test]
fn the_stream_mapping_is_bounded_bisects_and_reports_partial_failures() {
    let t = cfn::template();
    let stack = Stack::new(&t, &[AUTH_PREFIX]);
    let with_streams: Vec<_> = functions(&stack)
        .into_iter()
        .filter(|f| !stream_events(f).is_empty())
        .collect();
    assert_eq!(
        with_streams
            .iter()
            .map(|f| f.dir.as_str())
            .collect::<Vec<_>>(),
        vec!["appointment-events"],
        "appointment-events alone consumes the table's stream"
    );
    let f = &with_streams[0];
    assert!(
        main_rs(&f.dir).contains("handle_stream_batch"),
        "appointment-events reports partial batch failures from its handler"
    );
    let events = stream_events(f);
    assert_eq!(events.len(), 1);
    let p = &events[0]["Properties"];
    assert_eq!(
        p["Stream"]["Fn::GetAtt"],
        serde_json::json!(["AppTable", "StreamArn"])
    );
    assert_eq!(p["BisectBatchOnFunctionError"], true);
    assert_eq!(
        p["FunctionResponseTypes"],
        serde_json::json!(["ReportBatchItemFailures"])
    );
    let retries = p["MaximumRetryAttempts"].as_i64().expect("bounded retries");
    assert!((0..=10).contains(&retries), "{retries} retries");
    let age = p["MaximumRecordAgeInSeconds"]
        .as_i64()
        .expect("a maximum record age");
    assert!((60..=86_400).contains(&age), "{age} s");
    let destination = &p["DestinationConfig"]["OnFailure"];
    assert_eq!(destination["Type"], "SQS");
    let queue = destination["Destination"]["Fn::GetAtt"][0]
        .as_str()
        .unwrap();
    assert_eq!(stack.resource(queue)["Type"], "AWS::SQS::Queue");

    let table = &stack.resource("AppTable")["Properties"];
    assert_eq!(
        table["StreamSpecification"]["StreamViewType"],
        "NEW_AND_OLD_IMAGES"
    );

    // Only appointment items invoke the consumer, by the adapter's own key names and values.
    let filters = p["FilterCriteria"]["Filters"]
        .as_array()
        .expect("the stream mapping filters its records");
    assert_eq!(filters.len(), 1, "one pattern: {filters:?}");
    let pattern: J = serde_json::from_str(
        filters[0]["Pattern"]
            .as_str()
            .expect("a pattern is a JSON string"),
    )
    .expect("the pattern is JSON");
    assert_eq!(pattern, table::appointment_stream_filter());
    let keys = &pattern["dynamodb"]["Keys"];
    assert!(keys[table::PARTITION_KEY].is_object() && keys[table::SORT_KEY].is_object());
    let key_schema: BTreeSet<String> = table["KeySchema"]
        .as_array()
        .expect("the table's key schema")
        .iter()
        .map(|k| k["AttributeName"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        key_schema,
        set([table::PARTITION_KEY, table::SORT_KEY]),
        "the filter names the table's keys"
    );
}

#[test]
fn reminder_schedules_run_as_their_own_role_with_a_dead_letter_queue() {
    let t = cfn::template();
    let stack = Stack::new(&t, &[AUTH_PREFIX]);
    let reminder = function_by_dir(&stack, "send-reminder");
    let role = stack.resource("ReminderSchedulerRole");
    let trust = &role["Properties"]["AssumeRolePolicyDocument"]["Statement"];
    assert_eq!(trust.as_array().unwrap().len(), 1);
    assert_eq!(trust[0]["Principal"]["Service"], "scheduler.amazonaws.com");
    assert_eq!(
        trust[0]["Condition"]["StringEquals"]["aws:SourceAccount"]["Ref"],
        "AWS::AccountId"
    );
    let grants = role_grants(&stack, "ReminderSchedulerRole");
    let allowed: BTreeSet<String> = grants
        .iter()
        .flat_map(|g| g.actions.iter().cloned())
        .collect();
    assert_eq!(allowed, set(["lambda:InvokeFunction", "sqs:SendMessage"]));
    assert_eq!(
        resources_of(&grants, "lambda:InvokeFunction"),
        set([stack.attribute(&reminder.logical, "Arn")])
    );
    assert_eq!(
        resources_of(&grants, "sqs:SendMessage"),
        set([stack.attribute("ReminderDeadLetterQueue", "Arn")])
    );
    // The role's policy names send-reminder without a reference to it (the cycle of TOOLCHAIN.md).
    let policy = serde_json::to_string(&role["Properties"]["Policies"]).unwrap();
    assert!(
        !policy.contains(&reminder.logical),
        "ReminderSchedulerRole must not reference {}",
        reminder.logical
    );
    let ae_env = serde_json::to_string(
        &function_by_dir(&stack, "appointment-events").resource["Properties"]["Environment"],
    )
    .unwrap();
    assert!(
        !ae_env.contains(&reminder.logical),
        "appointment-events' environment must not reference {}",
        reminder.logical
    );

    // Lambda's own retries of Scheduler's asynchronous invocations are bounded and end in the DLQ.
    let invoke = &reminder.resource["Properties"]["EventInvokeConfig"];
    let retries = invoke["MaximumRetryAttempts"].as_i64().unwrap();
    assert!((0..=2).contains(&retries));
    assert_eq!(
        stack.eval_str(&invoke["DestinationConfig"]["OnFailure"]["Destination"]),
        stack.attribute("ReminderDeadLetterQueue", "Arn")
    );
    assert_eq!(
        stack.resource("ReminderScheduleGroup")["Type"],
        "AWS::Scheduler::ScheduleGroup"
    );
}

#[test]
fn deployment_rules_accept_the_test_deployments_and_refuse_incomplete_token_auth() {
    let t = cfn::template();
    let rules_hold = |stack: &Stack<'_>| -> Vec<String> {
        let mut failed = Vec::new();
        for (name, rule) in t["Rules"].as_object().unwrap() {
            let applies = rule.get("RuleCondition").is_none_or(|c| truth(stack, c));
            if !applies {
                continue;
            }
            for a in rule["Assertions"].as_array().unwrap() {
                if !truth(stack, &a["Assert"]) {
                    failed.push(format!("{name}: {}", a["AssertDescription"]));
                }
            }
        }
        failed
    };
    for (name, stack) in deployments(&t) {
        assert_eq!(rules_hold(&stack), Vec::<String>::new(), "{name}");
    }
    let no_key = Stack::new(
        &t,
        &[
            AUTH_PREFIX,
            ("JitsiAuth", "jaas"),
            ("JitsiDomain", "8x8.vc"),
            ("JaasAppId", "vpaas-magic-cookie-1"),
            ("JaasKeyId", "k"),
        ],
    );
    assert_eq!(
        rules_hold(&no_key).len(),
        1,
        "JaaS without the key's parameter is refused"
    );
    let no_cert = Stack::new(&t, &[AUTH_PREFIX, ("SiteDomainName", "care.example.org")]);
    assert_eq!(
        rules_hold(&no_cert).len(),
        1,
        "a custom domain without a certificate is refused"
    );
}

/// A rule's condition or assertion: the condition functions, evaluated like `Conditions`.
fn truth(stack: &Stack<'_>, v: &J) -> bool {
    let eq = |args: &J| stack.eval_str(&args[0]) == stack.eval_str(&args[1]);
    if let Some(args) = v.get("Fn::Equals") {
        return eq(args);
    }
    if let Some(args) = v.get("Fn::Not") {
        return !truth(stack, &args[0]);
    }
    if let Some(args) = v.get("Fn::And") {
        return args.as_array().unwrap().iter().all(|a| truth(stack, a));
    }
    if let Some(args) = v.get("Fn::Or") {
        return args.as_array().unwrap().iter().any(|a| truth(stack, a));
    }
    panic!("not a rule condition: {v}")
}

// ------------------------------------------------------------------ tests: site and alarms

#[test]
fn the_site_bucket_is_private_and_cloudfront_serves_site_and_api_on_one_origin() {
    let t = cfn::template();
    let stack = Stack::new(&t, &[AUTH_PREFIX]);
    let bucket = &stack.resource("SiteBucket")["Properties"];
    for flag in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(
            bucket["PublicAccessBlockConfiguration"][flag], true,
            "{flag}"
        );
    }
    let policy = stack
        .eval(&stack.resource("SiteBucketPolicy")["Properties"]["PolicyDocument"])
        .unwrap();
    let distribution_arn = format!("arn:aws:cloudfront::{ACCOUNT}:distribution/E1EXAMPLE2DIST");
    for st in policy["Statement"].as_array().unwrap() {
        if st["Effect"] == "Allow" {
            assert_eq!(st["Principal"]["Service"], "cloudfront.amazonaws.com");
            assert_eq!(
                st["Condition"]["StringEquals"]["AWS:SourceArn"],
                distribution_arn.as_str()
            );
        }
    }

    let d = stack
        .eval(&stack.resource("SiteDistribution")["Properties"]["DistributionConfig"])
        .unwrap();
    let origins = d["Origins"].as_array().unwrap();
    let origin = |id: &str| origins.iter().find(|o| o["Id"] == id).unwrap().clone();
    let site = origin("site");
    assert!(
        site["OriginAccessControlId"].is_string(),
        "the bucket is read through OAC"
    );
    assert_eq!(site["S3OriginConfig"]["OriginAccessIdentity"], "");
    let api = origin("api");
    assert_eq!(
        api["DomainName"],
        format!("a1b2c3d4e5.execute-api.{REGION}.amazonaws.com")
    );
    assert_eq!(
        api["CustomOriginConfig"]["OriginProtocolPolicy"],
        "https-only"
    );

    assert_eq!(d["DefaultCacheBehavior"]["TargetOriginId"], "site");
    assert_eq!(
        d["DefaultCacheBehavior"]["ViewerProtocolPolicy"],
        "redirect-to-https"
    );
    assert_eq!(
        d["DefaultCacheBehavior"]["FunctionAssociations"][0]["EventType"],
        "viewer-request"
    );
    let behaviors = d["CacheBehaviors"].as_array().unwrap();
    assert_eq!(behaviors.len(), 1);
    let b = &behaviors[0];
    assert_eq!(b["PathPattern"], "/api/*");
    assert_eq!(b["TargetOriginId"], "api");
    // Managed-CachingDisabled and Managed-AllViewerExceptHostHeader.
    assert_eq!(b["CachePolicyId"], "4135ea2d-6df8-44a3-9df3-4b5a84be39ad");
    assert_eq!(
        b["OriginRequestPolicyId"],
        "b689b0a8-53d0-40ab-baf2-68738e2966ac"
    );
    assert_eq!(b["AllowedMethods"].as_array().unwrap().len(), 7);
    assert!(
        d.get("CustomErrorResponses").is_none(),
        "error pages would hide the API's problem+json answers"
    );

    // Same origin: the API has no CORS configuration.
    assert!(stack.resource("HttpApi")["Properties"]
        .get("CorsConfiguration")
        .is_none());
    // Cognito sends the browser back to the site.
    let client = stack
        .eval(&stack.resource("UserPoolClient")["Properties"])
        .unwrap();
    assert_eq!(
        client["CallbackURLs"],
        serde_json::json!([format!("https://{DISTRIBUTION_DOMAIN}/")])
    );
    assert_eq!(client["AllowedOAuthFlows"], serde_json::json!(["code"]));
    assert_eq!(
        client["GenerateSecret"], false,
        "a browser app is a public client (PKCE)"
    );
    let groups: BTreeSet<String> = stack
        .of_type("AWS::Cognito::UserPoolGroup")
        .into_iter()
        .map(|(_, g)| scalar(&g["Properties"]["GroupName"]))
        .collect();
    assert_eq!(groups, set(["doctors", "patients"]));
}

#[test]
fn security_headers_are_the_local_servers_with_this_deployments_jitsi_host() {
    let local = std::fs::read_to_string(repo_path("infra/local/src/lib.rs"))
        .expect("infra/local/src/lib.rs");
    let after = |marker: &str| -> String {
        let at = local.find(marker).unwrap_or_else(|| {
            panic!("infra/local/src/lib.rs no longer sets {marker}: update this test with the new place")
        });
        string_literals(&local[at + marker.len()..])
            .into_iter()
            .next()
            .map(|(_, v)| v)
            .unwrap()
    };
    let local_csp = csp(&after("\"content-security-policy\","));
    let local_permissions = after("\"permissions-policy\",");
    let local_referrer = after("\"referrer-policy\",");
    let local_frame = after("\"x-frame-options\",");
    let public_jitsi = ["https://meet.jit.si", "https://8x8.vc"];

    let t = cfn::template();
    for (name, stack) in deployments(&t) {
        let jitsi = format!("https://{}", stack.params["JitsiDomain"]);
        let cognito = format!(
            "https://{}.auth.{REGION}.amazoncognito.com",
            stack.params["AuthDomainPrefix"]
        );
        // What the local server sends, with this deployment's Jitsi host and the Cognito domain.
        let mut wanted = BTreeMap::new();
        for (directive, sources) in &local_csp {
            let mut sources: BTreeSet<String> = sources
                .iter()
                .filter(|s| !public_jitsi.contains(&s.as_str()))
                .cloned()
                .collect();
            if sources.len() < local_csp[directive].len() {
                sources.insert(jitsi.clone());
            }
            if directive == "connect-src" {
                sources.insert(cognito.clone());
            }
            wanted.insert(directive.clone(), sources);
        }
        let wanted_permissions = local_permissions.replace(
            "\"https://meet.jit.si\" \"https://8x8.vc\"",
            &format!("\"{jitsi}\""),
        );
        for policy in ["SiteHeadersPolicy", "ApiHeadersPolicy"] {
            let c = stack
                .eval(&stack.resource(policy)["Properties"]["ResponseHeadersPolicyConfig"])
                .unwrap();
            let sec = &c["SecurityHeadersConfig"];
            let got = csp(sec["ContentSecurityPolicy"]["ContentSecurityPolicy"]
                .as_str()
                .unwrap());
            assert_eq!(got, wanted, "{name}: {policy}: CSP");
            assert_eq!(got["frame-ancestors"], set(["'none'"]));
            assert!(
                got["script-src"].iter().all(|s| !s.contains("unsafe")),
                "no unsafe scripts"
            );
            assert_eq!(sec["ContentSecurityPolicy"]["Override"], true);
            assert_eq!(
                sec["ReferrerPolicy"]["ReferrerPolicy"],
                local_referrer.as_str()
            );
            assert_eq!(sec["FrameOptions"]["FrameOption"], local_frame.as_str());
            assert_eq!(sec["ContentTypeOptions"]["Override"], true, "nosniff");
            let hsts = sec["StrictTransportSecurity"]["AccessControlMaxAgeSec"]
                .as_i64()
                .unwrap();
            assert!(hsts >= 31_536_000, "HSTS for at least a year");
            let custom: BTreeMap<String, String> = c["CustomHeadersConfig"]["Items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| (scalar(&i["Header"]).to_lowercase(), scalar(&i["Value"])))
                .collect();
            assert_eq!(
                custom["permissions-policy"], wanted_permissions,
                "{name}: {policy}"
            );
            for feature in ["camera", "microphone", "display-capture"] {
                assert!(
                    custom["permissions-policy"].contains(&format!("{feature}=(self \"{jitsi}\")"))
                );
            }
        }
    }
}

fn csp(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    text.split(';')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            let mut parts = d.split_whitespace();
            let name = parts.next().unwrap().to_owned();
            (name, parts.map(str::to_owned).collect())
        })
        .collect()
}

#[test]
fn the_site_router_serves_video_rooms_and_directories_like_the_local_server() {
    let t = cfn::template();
    let stack = Stack::new(&t, &[AUTH_PREFIX]);
    let code = scalar(&stack.resource("SiteRouterFunction")["Properties"]["FunctionCode"]);
    let cases = serde_json::json!([
        {"uri": "/"},
        {"uri": "/appointments/"},
        {"uri": "/schedule/"},
        {"uri": "/video/medichain-0123456789abcdef0123456789abcdef"},
        {"uri": "/video/"},
        {"uri": "/video/a/b"},
        {"uri": "/appointments"},
        {"uri": "/notifications", "querystring": {"page": {"value": "2"}, "tag": {"value": "a", "multiValue": [{"value": "a"}, {"value": "b"}]}}},
        {"uri": "/js/app.js"},
        {"uri": "/config.json"},
        {"uri": "/404.html"},
    ]);
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("router.js");
    std::fs::write(
        &script,
        format!(
            "{code}\nconst cases = {cases};\nfor (const c of cases) {{\n  const r = handler({{ request: {{ uri: c.uri, querystring: c.querystring || {{}} }} }});\n  console.log(JSON.stringify(r.statusCode ? {{ status: r.statusCode, location: r.headers.location.value }} : {{ uri: r.uri }}));\n}}\n"
        ),
    )
    .unwrap();
    let out = Command::new("node").arg(&script).output().expect(
        "node runs the CloudFront Function's code (it is installed where the site's tests run)",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<J> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let expected = serde_json::json!([
        {"uri": "/index.html"},
        {"uri": "/appointments/index.html"},
        {"uri": "/schedule/index.html"},
        {"uri": "/video.html"},
        {"uri": "/video/index.html"},
        {"status": 301, "location": "/video/a/b/"},
        {"status": 301, "location": "/appointments/"},
        {"status": 301, "location": "/notifications/?page=2&tag=a&tag=b"},
        {"uri": "/js/app.js"},
        {"uri": "/config.json"},
        {"uri": "/404.html"},
    ]);
    assert_eq!(J::Array(results), expected);
    // The pages it points at exist.
    for page in [
        "index.html",
        "video.html",
        "appointments/index.html",
        "schedule/index.html",
        "notifications/index.html",
    ] {
        assert!(
            repo_path(&format!("static-site/{page}")).exists(),
            "static-site/{page}"
        );
    }
}

#[test]
fn dead_letters_stream_lag_and_api_errors_alarm_the_ops_topic() {
    let t = cfn::template();
    let stack = Stack::new(&t, &[AUTH_PREFIX]);
    let alarms = stack.of_type("AWS::CloudWatch::Alarm");
    for (queue, _) in stack.of_type("AWS::SQS::Queue") {
        let watched = alarms.iter().any(|(_, a)| {
            let p = &a["Properties"];
            p["MetricName"] == "ApproximateNumberOfMessagesVisible"
                && p["Dimensions"][0]["Value"]["Fn::GetAtt"][0] == queue.as_str()
        });
        assert!(watched, "{queue} has a depth alarm");
    }
    for f in functions(&stack)
        .into_iter()
        .filter(|f| !stream_events(f).is_empty())
    {
        assert!(
            alarms.iter().any(|(_, a)| {
                a["Properties"]["MetricName"] == "IteratorAge"
                    && a["Properties"]["Dimensions"][0]["Value"]["Ref"] == f.logical.as_str()
            }),
            "{}: iterator age alarm",
            f.logical
        );
    }
    assert!(alarms
        .iter()
        .any(|(_, a)| a["Properties"]["Namespace"] == "AWS/ApiGateway"));
    for (name, a) in &alarms {
        assert_eq!(
            a["Properties"]["AlarmActions"],
            serde_json::json!([{"Ref": "OpsTopic"}]),
            "{name}"
        );
        let described = scalar(&a["Properties"]["AlarmDescription"]);
        let section = described
            .split("docs/operations.md, \"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or_else(|| panic!("{name}: the description names its runbook section"));
        let runbook =
            std::fs::read_to_string(repo_path("docs/operations.md")).expect("docs/operations.md");
        assert!(
            runbook.contains(&format!("### {section}")),
            "{name}: docs/operations.md has a section \"### {section}\""
        );
    }
}

#[test]
fn the_site_publisher_writes_config_json_from_this_templates_outputs() {
    let t = cfn::template();
    for (name, stack) in deployments(&t) {
        let outputs: serde_json::Map<String, J> = t["Outputs"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, o)| (k.clone(), J::String(stack.eval_str(&o["Value"]))))
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let outputs_file = dir.path().join("outputs.json");
        std::fs::write(&outputs_file, J::Object(outputs.clone()).to_string()).unwrap();
        let stage = dir.path().join("site");
        let out = Command::new("python3")
            .arg(repo_path("infra/publish-site.py"))
            .arg("--outputs-json")
            .arg(&outputs_file)
            .arg("--stage-dir")
            .arg(&stage)
            .arg("--dry-run")
            .output()
            .expect("python3 runs infra/publish-site.py");
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();

        let config: J =
            serde_json::from_str(&std::fs::read_to_string(stage.join("config.json")).unwrap())
                .unwrap();
        let client = stack
            .eval(&stack.resource("UserPoolClient")["Properties"])
            .unwrap();
        assert_eq!(
            config["api_base"], "",
            "{name}: the API is on the site's origin"
        );
        assert_eq!(config["jitsi_domain"], stack.params["JitsiDomain"].as_str());
        assert_eq!(config["auth"]["mode"], "cognito");
        assert_eq!(config["auth"]["client_id"], outputs["UserPoolClientId"]);
        assert_eq!(
            config["auth"]["redirect_uri"], client["CallbackURLs"][0],
            "{name}"
        );
        assert_eq!(
            config["auth"]["logout_uri"], client["LogoutURLs"][0],
            "{name}"
        );
        // The browser fetches tokens from the hosted UI domain, which the CSP allows.
        let csp_text = stack.eval_str(
            &stack.resource("SiteHeadersPolicy")["Properties"]["ResponseHeadersPolicyConfig"]
                ["SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"],
        );
        let auth_origin = format!("https://{}", scalar(&config["auth"]["domain"]));
        assert!(
            csp(&csp_text)["connect-src"].contains(&auth_origin),
            "{name}: {auth_origin} in connect-src"
        );

        // The site without its tooling, and the invalidation of this distribution.
        for absent in ["tests", "node_modules", "package.json", "package-lock.json"] {
            assert!(!stage.join(absent).exists(), "{absent} is not published");
        }
        for present in ["index.html", "video.html", "js/app.js", "css/app.css"] {
            assert!(stage.join(present).exists(), "{present} is published");
        }
        let bucket = scalar(&outputs["SiteBucketName"]);
        assert!(
            stdout.contains(&format!("s3 sync {} s3://{bucket}", stage.display())),
            "{stdout}"
        );
        assert!(stdout.contains("--delete"));
        assert!(stdout.contains(&format!(
            "cloudfront create-invalidation --distribution-id {} --paths '/*'",
            scalar(&outputs["DistributionId"])
        )));
        let plan: J = serde_json::from_str(&stdout[..stdout.rfind("\n}").unwrap() + 2]).unwrap();
        assert_eq!(plan["files"]["index.html"], "no-cache");
        assert_eq!(plan["files"]["config.json"], "no-cache");
        assert_eq!(plan["files"]["js/app.js"], "no-cache");
        assert!(scalar(&plan["files"]["favicon.svg"]).contains("max-age="));
    }
}
