//! The SAM template, read as data (issue 13): every function's triggers, time zone,
//! architecture, dead letters, on-failure destination, alarms and log group, that
//! no IAM statement grants `*` where a resource exists, and that secrets are passed by
//! ARN, each function allowed to read exactly the ones it is given. No service needed; a
//! broken template fails here before `sam deploy` (cfn-lint and `sam validate --lint` check
//! the syntax, this checks the intent).
//!
//! The YAML's CloudFormation short tags (`!Ref`, `!GetAtt`, `!Sub`, `!If`, ...) are
//! turned into their long forms (`{"Ref": ..}`, `{"Fn::GetAtt": [..]}`) so every check
//! reads one shape.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::{json, Map, Value};

/// How a function is invoked, as the template must say.
#[derive(Debug, Clone, Copy)]
enum Trigger {
    /// A ScheduleV2 (EventBridge Scheduler) with this expression, in New York time.
    Schedule(&'static str),
    /// A rule on the project's bus matching these detail types.
    Rule(&'static [&'static str]),
    /// An HTTP API route (synchronous: the caller sees the error).
    Http,
    /// A CloudFormation custom resource of this type served by the function (invoked by
    /// the stack itself at deploy, answered at the request's ResponseURL; no Events).
    CustomResource(&'static str),
}

struct Expected {
    logical_id: &'static str,
    triggers: &'static [Trigger],
    /// The detail types it puts on the bus (docs/events.md); empty: no PutEvents at all.
    publishes: &'static [&'static str],
    /// Whether it prints the run metrics (EMF, shared/src/jobs/run_outcome.rs).
    run_metrics: bool,
}

use Trigger::{CustomResource, Http, Rule, Schedule};

const FUNCTIONS: &[Expected] = &[
    Expected {
        logical_id: "ScrapePricesFunction",
        triggers: &[Schedule("cron(30 16 ? * MON-FRI *)")],
        publishes: &["prices.updated"],
        run_metrics: true,
    },
    Expected {
        logical_id: "BuildFeaturesFunction",
        triggers: &[Rule(&["prices.updated"])],
        publishes: &["features.built"],
        run_metrics: true,
    },
    Expected {
        logical_id: "PredictFunction",
        triggers: &[Rule(&["features.built"])],
        publishes: &["predictions.ready"],
        run_metrics: true,
    },
    Expected {
        logical_id: "ScrapeRedditFunction",
        triggers: &[Schedule("cron(25 * ? * * *)")],
        publishes: &["reddit.scraped"],
        run_metrics: true,
    },
    Expected {
        logical_id: "GenerateSignalsFunction",
        triggers: &[Rule(&["predictions.ready"])],
        publishes: &["signals.generated", "breaker.tripped", "breaker.released"],
        run_metrics: true,
    },
    Expected {
        logical_id: "MonitorPositionsFunction",
        triggers: &[Schedule("cron(0/15 9-16 ? * MON-FRI *)")],
        publishes: &["positions.closed"],
        run_metrics: true,
    },
    Expected {
        logical_id: "NotifyFunction",
        triggers: &[
            Rule(&["signals.generated", "positions.closed"]),
            Schedule("rate(5 minutes)"),
        ],
        publishes: &[],
        run_metrics: true,
    },
    Expected {
        logical_id: "WatchdogFunction",
        triggers: &[Schedule("cron(30 18 * * ? *)")],
        publishes: &[],
        run_metrics: true,
    },
    // The weekly retrain: a Python container image (models/Dockerfile), no run metrics; a
    // failure is its Errors alarm and its dead letter.
    Expected {
        logical_id: "RetrainFunction",
        triggers: &[Schedule("cron(0 6 ? * SAT *)")],
        publishes: &[],
        run_metrics: false,
    },
    Expected {
        logical_id: "ApiFunction",
        triggers: &[Http, Http],
        publishes: &[],
        run_metrics: false,
    },
    Expected {
        logical_id: "DeployFunction",
        triggers: &[
            CustomResource("Custom::Migrations"),
            CustomResource("Custom::ModelBundle"),
        ],
        publishes: &[],
        run_metrics: false,
    },
];

/// Actions whose only resource is `*` (IAM has nothing narrower), with the reason.
const STAR_ONLY_ACTIONS: &[(&str, &str)] = &[
    (
        "cloudwatch:PutMetricData",
        "no resource type; narrowed by the cloudwatch:namespace condition instead",
    ),
    (
        "xray:PutTraceSegments",
        "X-Ray has no resource-level permissions",
    ),
    (
        "xray:PutTelemetryRecords",
        "X-Ray has no resource-level permissions",
    ),
];

/// Event source types whose invocation of the function is asynchronous.
const ASYNC_EVENT_TYPES: &[&str] = &[
    "Schedule",
    "ScheduleV2",
    "EventBridgeRule",
    "CloudWatchEvent",
    "SNS",
    "S3",
];

const NEW_YORK: &str = "America/New_York";

// ---------------------------------------------------------------------------------------
// Reading the template.

fn template_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../template.yaml")
}

/// The template with its short tags in long form.
fn load(text: &str) -> Value {
    let yaml: serde_norway::Value = serde_norway::from_str(text).expect("template.yaml parses");
    to_json(&yaml)
}

fn template() -> Value {
    let text = std::fs::read_to_string(template_path()).expect("template.yaml is readable");
    load(&text)
}

fn to_json(v: &serde_norway::Value) -> Value {
    use serde_norway::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(*b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                json!(i)
            } else if let Some(u) = n.as_u64() {
                json!(u)
            } else {
                json!(n.as_f64())
            }
        }
        Y::String(s) => Value::String(s.clone()),
        Y::Sequence(items) => Value::Array(items.iter().map(to_json).collect()),
        Y::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match k {
                    Y::String(s) => s.clone(),
                    other => serde_norway::to_string(other)
                        .expect("a key serialises")
                        .trim()
                        .to_string(),
                };
                out.insert(key, to_json(v));
            }
            Value::Object(out)
        }
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = to_json(&tagged.value);
            match name {
                "Ref" | "Condition" => json!({ name: inner }),
                // `!GetAtt A.B` is `{"Fn::GetAtt": ["A", "B"]}`.
                "GetAtt" => match inner {
                    Value::String(s) => {
                        let (resource, attribute) = s
                            .split_once('.')
                            .unwrap_or_else(|| panic!("!GetAtt {s} has no attribute"));
                        json!({"Fn::GetAtt": [resource, attribute]})
                    }
                    other => json!({ "Fn::GetAtt": other }),
                },
                _ => json!({ format!("Fn::{name}"): inner }),
            }
        }
    }
}

fn resources(t: &Value) -> &Map<String, Value> {
    t["Resources"].as_object().expect("Resources is a map")
}

fn of_type<'a>(t: &'a Value, ty: &str) -> Vec<(&'a str, &'a Value)> {
    resources(t)
        .iter()
        .filter(|(_, r)| r["Type"] == ty)
        .map(|(id, r)| (id.as_str(), r))
        .collect()
}

/// `{"Ref": X}` -> X.
fn ref_to(v: &Value) -> Option<&str> {
    v.get("Ref").and_then(Value::as_str)
}

/// `{"Fn::GetAtt": [X, A]}` -> (X, A).
fn get_att(v: &Value) -> Option<(&str, &str)> {
    let parts = v.get("Fn::GetAtt")?.as_array()?;
    Some((parts.first()?.as_str()?, parts.get(1)?.as_str()?))
}

/// The queue a `!GetAtt Queue.Arn` names, if it is an SQS queue of this template.
fn queue_of_arn<'a>(t: &Value, arn: &'a Value) -> Option<&'a str> {
    let (id, attribute) = get_att(arn)?;
    (attribute == "Arn" && resources(t).get(id)?["Type"] == "AWS::SQS::Queue").then_some(id)
}

fn as_strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn events(function: &Value) -> Vec<(&str, &Value)> {
    function["Properties"]["Events"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.as_str(), v)).collect())
        .unwrap_or_default()
}

fn is_async(event: &Value) -> bool {
    event["Type"]
        .as_str()
        .is_some_and(|ty| ASYNC_EVENT_TYPES.contains(&ty))
}

/// Every alarm of the template (logical id, properties).
fn alarms(t: &Value) -> Vec<(&str, &Value)> {
    of_type(t, "AWS::CloudWatch::Alarm")
        .into_iter()
        .map(|(id, r)| (id, &r["Properties"]))
        .collect()
}

fn dimension<'a>(alarm: &'a Value, name: &str) -> Option<&'a Value> {
    alarm["Dimensions"]
        .as_array()?
        .iter()
        .find(|d| d["Name"] == name)
        .map(|d| &d["Value"])
}

/// Every IAM statement of the template with where it is: the functions' inline
/// `Policies` (also inside `!If`) and any IAM role, policy or queue/topic policy.
fn statements(t: &Value) -> Vec<(String, Value)> {
    fn collect(origin: &str, v: &Value, out: &mut Vec<(String, Value)>) {
        match v {
            Value::Object(m) => {
                if let Some(statement) = m.get("Statement") {
                    match statement {
                        Value::Array(items) => {
                            out.extend(items.iter().map(|s| (origin.to_string(), s.clone())))
                        }
                        other => out.push((origin.to_string(), other.clone())),
                    }
                }
                for (k, child) in m {
                    if k != "Statement" {
                        collect(origin, child, out);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| collect(origin, i, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (id, r) in resources(t) {
        let ty = r["Type"].as_str().unwrap_or_default();
        if ty == "AWS::Serverless::Function" {
            collect(id, &r["Properties"]["Policies"], &mut out);
        } else if ty.starts_with("AWS::IAM::") || ty.ends_with("Policy") {
            collect(id, &r["Properties"], &mut out);
        }
    }
    out
}

/// A rate or a simple cron period in seconds (only `rate(N unit)` is needed here).
fn rate_seconds(expression: &str) -> Option<u64> {
    let inner = expression.strip_prefix("rate(")?.strip_suffix(')')?;
    let (n, unit) = inner.split_once(' ')?;
    let n: u64 = n.parse().ok()?;
    let unit_secs = match unit.trim_end_matches('s') {
        "minute" => 60,
        "hour" => 3600,
        "day" => 86_400,
        _ => return None,
    };
    Some(n * unit_secs)
}

// ---------------------------------------------------------------------------------------
// The checks, each returning what is wrong (so a test can also show that a broken
// template is caught).

fn check_triggers(t: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let in_template: BTreeSet<&str> = of_type(t, "AWS::Serverless::Function")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let expected: BTreeSet<&str> = FUNCTIONS.iter().map(|f| f.logical_id).collect();
    if in_template != expected {
        problems.push(format!(
            "functions in the template {in_template:?} differ from this test's table \
             {expected:?}: add the new function to FUNCTIONS with its triggers"
        ));
    }
    for f in FUNCTIONS {
        let Some(function) = resources(t).get(f.logical_id) else {
            continue;
        };
        let evs = events(function);
        let event_triggers = f
            .triggers
            .iter()
            .filter(|t| !matches!(t, CustomResource(_)))
            .count();
        if evs.len() != event_triggers {
            problems.push(format!(
                "{}: {} trigger(s), expected {event_triggers}",
                f.logical_id,
                evs.len(),
            ));
        }
        for trigger in f.triggers {
            if let CustomResource(ty) = trigger {
                let served = of_type(t, ty).into_iter().any(|(_, r)| {
                    get_att(&r["Properties"]["ServiceToken"]) == Some((f.logical_id, "Arn"))
                });
                if !served {
                    problems.push(format!(
                        "{}: no {ty} resource with ServiceToken !GetAtt {}.Arn",
                        f.logical_id, f.logical_id
                    ));
                }
                continue;
            }
            let found = evs.iter().any(|(_, ev)| {
                let p = &ev["Properties"];
                match trigger {
                    Schedule(expression) => {
                        ev["Type"] == "ScheduleV2" && p["ScheduleExpression"] == *expression
                    }
                    Rule(detail_types) => {
                        let pattern = &p["Pattern"];
                        ev["Type"] == "EventBridgeRule"
                            && ref_to(&p["EventBusName"]) == Some("TradingEventBus")
                            && as_strings(&pattern["source"]) == ["tft.trader"]
                            && as_strings(&pattern["detail-type"]) == *detail_types
                    }
                    Http => ev["Type"] == "HttpApi" && ref_to(&p["ApiId"]) == Some("QueryHttpApi"),
                    CustomResource(_) => unreachable!("handled above"),
                }
            });
            if !found {
                problems.push(format!("{}: no trigger {trigger:?}", f.logical_id));
            }
        }
        for (name, ev) in &evs {
            let ty = ev["Type"].as_str().unwrap_or_default();
            if ty.starts_with("Schedule")
                && ev["Properties"]["ScheduleExpressionTimezone"] != NEW_YORK
            {
                problems.push(format!(
                    "{}.{name}: a schedule not in {NEW_YORK} time",
                    f.logical_id
                ));
            }
        }
    }
    problems
}

fn check_arm64(t: &Value) -> Vec<String> {
    let global = &t["Globals"]["Function"]["Architectures"];
    of_type(t, "AWS::Serverless::Function")
        .into_iter()
        .filter_map(|(id, f)| {
            let own = &f["Properties"]["Architectures"];
            let effective = if own.is_null() { global } else { own };
            (as_strings(effective) != ["arm64"]).then(|| format!("{id}: not arm64 ({effective})"))
        })
        .collect()
}

fn check_dead_letters(t: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for (id, function) in of_type(t, "AWS::Serverless::Function") {
        let evs = events(function);
        for (name, ev) in &evs {
            if !is_async(ev) {
                continue;
            }
            let dlq = &ev["Properties"]["DeadLetterConfig"];
            let ok = dlq["Type"] == "SQS" || queue_of_arn(t, &dlq["Arn"]).is_some();
            if !ok {
                problems.push(format!(
                    "{id}.{name}: an asynchronous trigger without a dead-letter queue \
                     (DeadLetterConfig with the Arn of a queue of the template)"
                ));
                continue;
            }
            // A bus rule's dead letters are sent by EventBridge itself: the queue's policy
            // must let that rule (by name) send them.
            if ev["Type"] == "EventBridgeRule" {
                let queue = queue_of_arn(t, &dlq["Arn"]);
                let rule_name = &ev["Properties"]["RuleName"];
                let rule_suffix = rule_name["Fn::Sub"]
                    .as_str()
                    .map(|s| format!("/{s}"))
                    .unwrap_or_default();
                let allowed = of_type(t, "AWS::SQS::QueuePolicy")
                    .into_iter()
                    .any(|(_, p)| {
                        let p = &p["Properties"];
                        let for_queue = p["Queues"]
                            .as_array()
                            .is_some_and(|qs| qs.iter().any(|q| ref_to(q) == queue));
                        for_queue
                            && p["PolicyDocument"]["Statement"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .any(|s| {
                                    s["Principal"]["Service"] == "events.amazonaws.com"
                                        && s["Action"] == "sqs:SendMessage"
                                        && s["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::Sub"]
                                            .as_str()
                                            .is_some_and(|arn| {
                                                !rule_suffix.is_empty()
                                                    && arn.ends_with(&rule_suffix)
                                            })
                                })
                    });
                if !allowed {
                    problems.push(format!(
                        "{id}.{name}: no queue policy lets the rule (RuleName {rule_name}) \
                         send to its dead-letter queue"
                    ));
                }
            }
        }
        if evs.iter().any(|(_, ev)| is_async(ev)) {
            let on_failure =
                &function["Properties"]["EventInvokeConfig"]["DestinationConfig"]["OnFailure"];
            if on_failure["Type"] != "SQS" || queue_of_arn(t, &on_failure["Destination"]).is_none()
            {
                problems.push(format!(
                    "{id}: invoked asynchronously but no on-failure destination to a queue \
                     (EventInvokeConfig.DestinationConfig.OnFailure)"
                ));
            }
        }
    }
    problems
}

fn notifies_the_topic(alarm: &Value) -> bool {
    alarm["AlarmActions"]
        .as_array()
        .is_some_and(|a| a.iter().any(|x| ref_to(x) == Some("AlarmTopic")))
}

fn check_alarms(t: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let all = alarms(t);
    for (id, alarm) in &all {
        if !notifies_the_topic(alarm) {
            problems.push(format!("{id}: does not notify AlarmTopic"));
        }
    }
    // Every queue: its depth.
    for (queue, _) in of_type(t, "AWS::SQS::Queue") {
        let watched = all.iter().any(|(_, a)| {
            a["Namespace"] == "AWS/SQS"
                && a["MetricName"] == "ApproximateNumberOfMessagesVisible"
                && dimension(a, "QueueName").and_then(get_att) == Some((queue, "QueueName"))
                && a["Threshold"] == 0
                && a["ComparisonOperator"] == "GreaterThanThreshold"
        });
        if !watched {
            problems.push(format!("{queue}: no depth alarm (messages visible > 0)"));
        }
    }
    // Every function: its errors, and the run metrics it prints.
    for f in FUNCTIONS {
        let errors = all.iter().any(|(_, a)| {
            a["Namespace"] == "AWS/Lambda"
                && a["MetricName"] == "Errors"
                && dimension(a, "FunctionName").and_then(ref_to) == Some(f.logical_id)
        });
        if !errors {
            problems.push(format!("{}: no Errors alarm", f.logical_id));
        }
        if f.run_metrics {
            let binary = binary_of(t, f.logical_id);
            let run_failed = all.iter().any(|(_, a)| {
                a["Namespace"] == "TftTrader"
                    && a["MetricName"] == "RunFailed"
                    && dimension(a, "Function").and_then(Value::as_str) == Some(binary.as_str())
            });
            if !run_failed {
                problems.push(format!(
                    "{}: no RunFailed alarm (Function={binary})",
                    f.logical_id
                ));
            }
        }
    }
    for (metric, function) in [
        ("NotificationsGaveUp", "notify"),
        ("PositionsUnpriced", "monitor-positions"),
        ("ItemsFailedPermanent", "scrape-prices"),
    ] {
        let found = all.iter().any(|(_, a)| {
            a["Namespace"] == "TftTrader"
                && a["MetricName"] == metric
                && dimension(a, "Function").and_then(Value::as_str) == Some(function)
        });
        if !found {
            problems.push(format!("no {metric} alarm for {function}"));
        }
    }
    // The missed daily run: a silent watchdog must alarm too.
    let daily = all.iter().find(|(_, a)| {
        a["Metrics"].as_array().is_some_and(|ms| {
            ms.iter().any(|m| {
                m["MetricStat"]["Metric"]["MetricName"] == "DailyRunMissing"
                    && m["MetricStat"]["Metric"]["Namespace"] == "TftTrader"
            })
        })
    });
    match daily {
        None => problems.push("no DailyRunMissing alarm".into()),
        Some((id, a)) => {
            if a["TreatMissingData"] != "breaching" {
                problems.push(format!(
                    "{id}: a silent watchdog must alarm (TreatMissingData breaching)"
                ));
            }
        }
    }
    problems
}

/// The function's name in docs and metrics: its cargo-lambda binary, or an image
/// function's DockerTag.
fn binary_of(t: &Value, logical_id: &str) -> String {
    let metadata = &resources(t)[logical_id]["Metadata"];
    metadata["BuildProperties"]["Binary"]
        .as_str()
        .or_else(|| metadata["DockerTag"].as_str())
        .unwrap_or_else(|| panic!("{logical_id} names no binary"))
        .to_string()
}

fn check_log_groups(t: &Value) -> Vec<String> {
    of_type(t, "AWS::Serverless::Function")
        .into_iter()
        .filter_map(|(id, f)| {
            let group = ref_to(&f["Properties"]["LoggingConfig"]["LogGroup"]);
            let retained = group.and_then(|g| resources(t).get(g)).is_some_and(|g| {
                g["Type"] == "AWS::Logs::LogGroup" && !g["Properties"]["RetentionInDays"].is_null()
            });
            (!retained).then(|| {
                format!(
                    "{id}: LoggingConfig.LogGroup must name a log group of the template with a \
                     RetentionInDays (got {group:?})"
                )
            })
        })
        .collect()
}

fn check_least_privilege(t: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for (origin, s) in statements(t) {
        if s["Effect"] != "Allow" {
            continue;
        }
        let resources = as_strings(&s["Resource"]);
        if resources.iter().any(|r| r == "*") {
            let actions = as_strings(&s["Action"]);
            let star_only = !actions.is_empty()
                && actions
                    .iter()
                    .all(|a| STAR_ONLY_ACTIONS.iter().any(|(x, _)| x == a));
            if !star_only {
                problems.push(format!(
                    "{origin}: Resource \"*\" for {actions:?}, which take a specific resource"
                ));
            }
        }
    }
    // No managed policies or SAM policy templates (they grant more than is used): only
    // inline statements, so every grant is visible and checked here.
    for (id, f) in of_type(t, "AWS::Serverless::Function") {
        let mut entries: Vec<&Value> = Vec::new();
        for p in f["Properties"]["Policies"].as_array().into_iter().flatten() {
            match p.get("Fn::If").and_then(Value::as_array) {
                Some(branches) => entries.extend(branches.iter().skip(1)),
                None => entries.push(p),
            }
        }
        for p in entries {
            let inline = p.get("Statement").is_some() || ref_to(p) == Some("AWS::NoValue");
            if !inline {
                problems.push(format!(
                    "{id}: policy {p} is a managed policy or a SAM policy template; write the \
                     statement it needs instead"
                ));
            }
        }
    }
    problems
}

/// The PutEvents grants: the project's bus only, the detail types the function puts.
fn check_put_events(t: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let all = statements(t);
    for f in FUNCTIONS {
        let grants: Vec<&Value> = all
            .iter()
            .filter(|(origin, s)| {
                origin == f.logical_id
                    && as_strings(&s["Action"])
                        .iter()
                        .any(|a| a.starts_with("events:"))
            })
            .map(|(_, s)| s)
            .collect();
        if f.publishes.is_empty() {
            if !grants.is_empty() {
                problems.push(format!(
                    "{}: puts nothing but may use EventBridge",
                    f.logical_id
                ));
            }
            continue;
        }
        let [grant] = grants.as_slice() else {
            problems.push(format!(
                "{}: expected one events statement, found {}",
                f.logical_id,
                grants.len()
            ));
            continue;
        };
        if as_strings(&grant["Action"]) != ["events:PutEvents"]
            || get_att(&grant["Resource"]) != Some(("TradingEventBus", "Arn"))
        {
            problems.push(format!(
                "{}: PutEvents must be the only action, on the bus's ARN: {grant}",
                f.logical_id
            ));
        }
        let mut granted = as_strings(&grant["Condition"]["StringEquals"]["events:detail-type"]);
        granted.sort();
        let mut expected: Vec<String> = f.publishes.iter().map(|s| s.to_string()).collect();
        expected.sort();
        if granted != expected {
            problems.push(format!(
                "{}: PutEvents conditioned on {granted:?}, it publishes {expected:?}",
                f.logical_id
            ));
        }
    }
    problems
}

/// The secrets a function is given: (parameter, condition) for every `*_SECRET_ARN`
/// variable of the Globals and of its own Environment, `!Ref P` or `!If [C, !Ref P,
/// !Ref AWS::NoValue]`. Secret values themselves are never given (checked separately).
fn secrets_given(t: &Value, function: &Value) -> BTreeSet<(String, Option<String>)> {
    let arn_vars: Vec<&str> = shared::config::SECRET_SOURCES
        .iter()
        .map(|s| s.arn_var)
        .collect();
    merged_environment(t, function)
        .into_iter()
        .filter(|(name, _)| arn_vars.contains(&name.as_str()))
        .flat_map(|(_, value)| param_refs(&value, None))
        .collect()
}

/// A function's environment as SAM makes it: the Globals' variables, then its own (its
/// own value wins: a function may be given another database secret, e.g. a direct URL).
fn merged_environment(t: &Value, function: &Value) -> BTreeMap<String, Value> {
    let mut vars = BTreeMap::new();
    for map in [
        &t["Globals"]["Function"]["Environment"]["Variables"],
        &function["Properties"]["Environment"]["Variables"],
    ] {
        for (name, value) in map.as_object().into_iter().flatten() {
            vars.insert(name.clone(), value.clone());
        }
    }
    vars
}

/// The parameters a value refers to, with the `!If` condition it is under.
fn param_refs(value: &Value, condition: Option<&str>) -> Vec<(String, Option<String>)> {
    if let Some(p) = ref_to(value) {
        return if p == "AWS::NoValue" {
            Vec::new()
        } else {
            vec![(p.to_string(), condition.map(str::to_string))]
        };
    }
    if let Some([c, yes, no]) = value
        .get("Fn::If")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    {
        let c = c.as_str().unwrap_or_default();
        let mut out = param_refs(yes, Some(c));
        out.extend(
            param_refs(no, None)
                .into_iter()
                .map(|(p, _)| (p, Some(format!("!{c}")))),
        );
        return out;
    }
    match value {
        Value::Array(items) => items
            .iter()
            .flat_map(|i| param_refs(i, condition))
            .collect(),
        // Anything else (a literal ARN, a pattern, `*`): recorded as is, to be refused.
        other => vec![(format!("literal {other}"), condition.map(str::to_string))],
    }
}

/// The secrets a function may read: the resources of its `secretsmanager:` statements,
/// with the `!If` condition its policy entry is under; and any problem with their shape.
fn secrets_granted(
    id: &str,
    function: &Value,
) -> (BTreeSet<(String, Option<String>)>, Vec<String>) {
    let mut granted = BTreeSet::new();
    let mut problems = Vec::new();
    for policy in function["Properties"]["Policies"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let (condition, policy) = match policy.get("Fn::If").and_then(Value::as_array) {
            Some(branches) => (branches[0].as_str(), &branches[1]),
            None => (None, policy),
        };
        for s in policy["Statement"].as_array().into_iter().flatten() {
            let actions = as_strings(&s["Action"]);
            if !actions.iter().any(|a| a.starts_with("secretsmanager:")) {
                continue;
            }
            if actions != ["secretsmanager:GetSecretValue"] || s["Effect"] != "Allow" {
                problems.push(format!("{id}: secrets may only be read: {s}"));
            }
            for (p, c) in param_refs(&s["Resource"], condition) {
                if p.starts_with("literal ") {
                    problems.push(format!(
                        "{id}: GetSecretValue on {p}: name the secret's ARN parameter instead"
                    ));
                }
                granted.insert((p, c));
            }
        }
    }
    (granted, problems)
}

/// Every function may read exactly the secrets it is given by ARN (under the same
/// condition), each named by its parameter, and the database URL's is given to all.
fn check_secrets(t: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for (id, f) in of_type(t, "AWS::Serverless::Function") {
        let given = secrets_given(t, f);
        let (granted, shape) = secrets_granted(id, f);
        problems.extend(shape);
        let database = merged_environment(t, f)
            .get("DATABASE_URL_SECRET_ARN")
            .map(|v| param_refs(v, None))
            .unwrap_or_default();
        if database.is_empty() {
            problems.push(format!(
                "{id}: reads the database but is not given its secret"
            ));
        }
        for missing in given.difference(&granted) {
            problems.push(format!("{id}: given {missing:?} but may not read it"));
        }
        for extra in granted.difference(&given) {
            problems.push(format!("{id}: may read {extra:?} but is not given it"));
        }
    }
    problems
}

/// No secret value in any environment: no dynamic reference, no variable that holds one.
fn check_no_secret_in_environment(text: &str, t: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if text.contains("{{resolve:") {
        problems.push(
            "a {{resolve:...}} dynamic reference puts a secret's value in the template's \
             output (and a Lambda's environment): pass the ARN instead"
                .to_string(),
        );
    }
    let secret_vars: Vec<&str> = shared::config::SECRET_SOURCES
        .iter()
        .flat_map(|s| s.keys.iter().map(|k| k.var))
        .collect();
    let mut environments = vec![(
        "Globals".to_string(),
        &t["Globals"]["Function"]["Environment"]["Variables"],
    )];
    for (id, f) in of_type(t, "AWS::Serverless::Function") {
        environments.push((id.to_string(), &f["Properties"]["Environment"]["Variables"]));
    }
    for (origin, vars) in environments {
        for name in vars.as_object().into_iter().flatten().map(|(k, _)| k) {
            if secret_vars.contains(&name.as_str()) {
                problems.push(format!(
                    "{origin}: {name} holds a secret: give its ARN variable instead"
                ));
            }
        }
    }
    problems
}

// ---------------------------------------------------------------------------------------
// The tests.

fn assert_none(problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "template.yaml:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn every_function_has_its_triggers_and_schedules_are_in_new_york_time() {
    assert_none(check_triggers(&template()));
}

#[test]
fn every_function_runs_on_arm64() {
    assert_none(check_arm64(&template()));
}

#[test]
fn every_async_trigger_has_a_dead_letter_queue_and_every_async_function_an_on_failure_destination()
{
    assert_none(check_dead_letters(&template()));
}

#[test]
fn every_function_queue_and_run_metric_has_its_alarm_on_the_topic() {
    assert_none(check_alarms(&template()));
}

#[test]
fn every_function_logs_into_a_log_group_with_a_retention() {
    assert_none(check_log_groups(&template()));
}

#[test]
fn no_statement_grants_star_where_a_resource_exists() {
    assert_none(check_least_privilege(&template()));
}

#[test]
fn put_events_is_limited_to_the_bus_and_the_detail_types_each_function_publishes() {
    assert_none(check_put_events(&template()));
}

/// docs/events.md's table names who puts each detail type: the same as the grants.
#[test]
fn the_published_detail_types_are_the_ones_docs_events_md_lists() {
    let t = template();
    let doc = std::fs::read_to_string(template_path().with_file_name("docs/events.md"))
        .expect("docs/events.md is readable");
    let mut documented: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in doc.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | `detail.type` | put-by (why) | consumed by |
        if cells.len() >= 4 && cells[1].starts_with('`') && cells[1].contains('.') {
            let detail_type = cells[1].trim_matches('`').to_string();
            let by = cells[2].split_whitespace().next().unwrap_or_default();
            documented
                .entry(by.to_string())
                .or_default()
                .insert(detail_type);
        }
    }
    assert!(!documented.is_empty(), "no table read from docs/events.md");
    for f in FUNCTIONS {
        let binary = binary_of(&t, f.logical_id);
        let ours: BTreeSet<String> = f.publishes.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            documented.remove(&binary).unwrap_or_default(),
            ours,
            "{binary}: docs/events.md vs this test's table"
        );
    }
    assert!(
        documented.is_empty(),
        "documented publishers with no function: {documented:?}"
    );
}

/// SES only with SES as the transport (and an e-mail sender), on the sender's identity.
#[test]
fn ses_is_granted_on_the_sender_identity_and_never_with_smtp() {
    let t = template();
    let condition = &t["Conditions"]["SendsEmailOverSes"]["Fn::And"];
    assert!(
        condition.as_array().is_some_and(|c| c
            .iter()
            .any(|x| x["Fn::Not"][0]["Condition"] == "EmailOverSmtp")),
        "SendsEmailOverSes must exclude EmailOverSmtp: {condition}"
    );
    for (origin, s) in statements(&t) {
        if as_strings(&s["Action"])
            .iter()
            .any(|a| a.starts_with("ses:"))
        {
            assert_eq!(origin, "NotifyFunction", "only notify sends e-mail");
            let arn = s["Resource"]["Fn::Sub"][0].as_str().unwrap_or_default();
            assert!(
                arn.ends_with(":identity/${Identity}"),
                "SES on the sender identity only: {s}"
            );
        }
    }
    let policies = &resources(&t)["NotifyFunction"]["Properties"]["Policies"];
    let guarded = policies
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p.to_string().contains("ses:"))
        .all(|p| p["Fn::If"][0] == "SendsEmailOverSes");
    assert!(
        guarded,
        "the SES statement must sit in !If SendsEmailOverSes: {policies}"
    );
}

/// Reserved concurrency only through the parameter (off by default); the sweeper ends
/// before the next one starts.
#[test]
fn reserved_concurrency_is_off_by_default_and_notify_ends_within_its_period() {
    let t = template();
    for (id, f) in of_type(&t, "AWS::Serverless::Function") {
        let reserved = &f["Properties"]["ReservedConcurrentExecutions"];
        assert!(
            reserved.is_null() || reserved["Fn::If"][0] == "NotifyReservesConcurrency",
            "{id}: a fixed reservation fails deploys on new accounts: {reserved}"
        );
    }
    assert_eq!(t["Parameters"]["NotifyReservedConcurrency"]["Default"], 0);

    let notify = &resources(&t)["NotifyFunction"]["Properties"];
    let timeout = notify["Timeout"]
        .as_u64()
        .or_else(|| t["Globals"]["Function"]["Timeout"].as_u64())
        .expect("a timeout");
    let period = rate_seconds(
        notify["Events"]["Sweeper"]["Properties"]["ScheduleExpression"]
            .as_str()
            .expect("the sweeper's expression"),
    )
    .expect("the sweeper runs at a rate");
    assert!(
        timeout < period,
        "notify's timeout {timeout} s must be below its sweeper's period {period} s"
    );
}

/// The checks catch what they are for: the template with one rule's dead-letter queue
/// removed, and with a `*` resource added, fails them.
#[test]
fn a_removed_dead_letter_queue_or_a_star_resource_is_caught() {
    let text = std::fs::read_to_string(template_path()).unwrap();
    let mut t = load(&text);
    let props = &mut t["Resources"]["PredictFunction"]["Properties"];
    props["Events"]["FeaturesBuilt"]["Properties"]
        .as_object_mut()
        .unwrap()
        .remove("DeadLetterConfig");
    let problems = check_dead_letters(&t);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("PredictFunction.FeaturesBuilt")),
        "{problems:?}"
    );

    let mut t = load(&text);
    t["Resources"]["PredictFunction"]["Properties"]["Policies"][0]["Statement"][1]["Resource"] =
        json!("*");
    let problems = check_least_privilege(&t);
    assert!(
        problems.iter().any(|p| p.contains("s3:GetObject")),
        "{problems:?}"
    );

    assert_eq!(rate_seconds("rate(5 minutes)"), Some(300));
    assert_eq!(rate_seconds("rate(1 hour)"), Some(3600));
}

#[test]
fn no_secret_value_is_in_any_environment() {
    let text = std::fs::read_to_string(template_path()).unwrap();
    assert_none(check_no_secret_in_environment(&text, &load(&text)));
}

#[test]
fn each_function_may_read_exactly_the_secrets_it_is_given() {
    let t = template();
    assert_none(check_secrets(&t));
    // The ones that need more than the database's, as shared::config::SECRET_SOURCES says.
    let given = |id: &str| secrets_given(&t, &resources(&t)[id]);
    assert!(given("ScrapeRedditFunction").contains(&("RedditSecretArn".into(), None)));
    assert!(given("NotifyFunction").contains(&("NotifyWebhookSecretArn".into(), None)));
    assert!(given("NotifyFunction")
        .contains(&("NotifySmtpSecretArn".into(), Some("ReadsSmtpSecret".into()))));
}

/// The secret checks catch what they are for.
#[test]
fn a_missing_secret_grant_a_wildcard_or_a_secret_in_the_environment_is_caught() {
    let text = std::fs::read_to_string(template_path()).unwrap();

    // The api function loses its grant: it could not read the database URL.
    let mut t = load(&text);
    let policies = t["Resources"]["ApiFunction"]["Properties"]["Policies"]
        .as_array_mut()
        .unwrap();
    policies.retain(|p| !p.to_string().contains("secretsmanager:"));
    let problems = check_secrets(&t);
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("ApiFunction: given") && p.contains("DatabaseUrlSecretArn")),
        "{problems:?}"
    );

    // A wildcard ARN instead of the parameter.
    let mut t = load(&text);
    for p in t["Resources"]["NotifyFunction"]["Properties"]["Policies"]
        .as_array_mut()
        .unwrap()
    {
        if p.to_string().contains("ReadItsSecrets") {
            p["Statement"][0]["Resource"] = json!("arn:aws:secretsmanager:*:*:secret:tft-*");
        }
    }
    let problems = check_secrets(&t);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("name the secret's ARN parameter")),
        "{problems:?}"
    );

    // The SMTP grant no longer under the condition its variable is under.
    let mut t = load(&text);
    for p in t["Resources"]["NotifyFunction"]["Properties"]["Policies"]
        .as_array_mut()
        .unwrap()
    {
        if p["Fn::If"][0] == "ReadsSmtpSecret" {
            p["Fn::If"][0] = json!("EmailOverSmtp");
        }
    }
    assert!(!check_secrets(&t).is_empty());

    // A value back in the environment, as before issue 13.
    let mut t = load(&text);
    t["Globals"]["Function"]["Environment"]["Variables"]["DATABASE_URL"] = json!("x");
    let problems = check_no_secret_in_environment(&text, &t);
    assert!(
        problems.iter().any(|p| p.contains("Globals: DATABASE_URL")),
        "{problems:?}"
    );
    let with_resolve = text.replace(
        "DATABASE_URL_SECRET_ARN: !Ref DatabaseUrlSecretArn",
        "DATABASE_URL: \"{{resolve:secretsmanager:x:SecretString:url}}\"",
    );
    assert_ne!(with_resolve, text);
    assert!(!check_no_secret_in_environment(&with_resolve, &load(&with_resolve)).is_empty());
}

/// The retrain is a container image SAM builds from models/Dockerfile (SAM refuses Runtime
/// and Handler on an image function, even from Globals, so every zip function names its
/// own) and fits Lambda's 15 minutes; where it may write: `check_s3`.
#[test]
fn the_retrain_is_an_image_from_the_dockerfile_and_zip_functions_name_their_runtime() {
    let t = template();
    let retrain = &resources(&t)["RetrainFunction"];
    let props = &retrain["Properties"];
    assert_eq!(props["PackageType"], "Image");
    assert!(props["Runtime"].is_null() && props["Handler"].is_null());
    let globals = &t["Globals"]["Function"];
    assert!(globals["Runtime"].is_null() && globals["Handler"].is_null());
    assert_eq!(retrain["Metadata"]["DockerContext"], ".");
    let dockerfile = retrain["Metadata"]["Dockerfile"].as_str().unwrap();
    assert!(
        template_path().with_file_name(dockerfile).exists(),
        "{dockerfile} is missing"
    );
    assert!(props["Timeout"].as_u64().is_some_and(|s| s <= 900));
    for (id, f) in of_type(&t, "AWS::Serverless::Function") {
        if f["Properties"]["PackageType"] == "Image" {
            continue;
        }
        assert_eq!(f["Properties"]["Runtime"], "provided.al2023", "{id}");
        assert_eq!(f["Properties"]["Handler"], "bootstrap", "{id}");
    }
}

// ---------------------------------------------------------------------------------------
// At deploy: the custom resources, the model bucket, S3 on the prefix only.

/// The functions that write to the model store: the deploy function (the committed
/// bundle) and the weekly retrain (new versions, the `current` pointer).
const WRITES_MODELS: &[&str] = &["DeployFunction", "RetrainFunction"];

/// S3 on the model prefix only (`<bucket>/<ModelPrefix>/*`, and listing the bucket only
/// under the prefix); writing only by [`WRITES_MODELS`]; deleting by nobody.
fn check_s3(t: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for (origin, s) in statements(t) {
        let actions = as_strings(&s["Action"]);
        if s["Effect"] != "Allow" || !actions.iter().any(|a| a.starts_with("s3:")) {
            continue;
        }
        let resource = s["Resource"]["Fn::Sub"][0].as_str().unwrap_or_default();
        let objects = resource == "arn:${AWS::Partition}:s3:::${Bucket}/${ModelPrefix}/*";
        let listing = resource == "arn:${AWS::Partition}:s3:::${Bucket}"
            && actions == ["s3:ListBucket"]
            && s["Condition"]["StringLike"]["s3:prefix"][0]["Fn::Sub"] == "${ModelPrefix}/*";
        if !objects && !listing {
            problems.push(format!(
                "{origin}: S3 {actions:?} outside the model prefix: {}",
                s["Resource"]
            ));
        }
        if (objects || listing)
            && s["Resource"]["Fn::Sub"][1]["Bucket"]["Fn::If"][0] != "CreatesModelBucket"
        {
            problems.push(format!("{origin}: not the model bucket: {}", s["Resource"]));
        }
        for a in &actions {
            let writes = a.starts_with("s3:Put") || a.starts_with("s3:Delete") || a == "s3:*";
            if a.starts_with("s3:Delete") || a == "s3:*" {
                problems.push(format!("{origin}: {a} (no function deletes models)"));
            } else if writes && !WRITES_MODELS.contains(&origin.as_str()) {
                problems.push(format!(
                    "{origin}: {a} (only {WRITES_MODELS:?} write models)"
                ));
            }
        }
    }
    problems
}

#[test]
fn s3_is_granted_on_the_model_prefix_only_and_written_only_at_deploy_and_by_the_retrain() {
    assert_none(check_s3(&template()));
}

/// Both resources are served by the deploy function, rerun whenever its code (with the
/// migrations and the bundle compiled in) changes, and cannot leave the stack waiting
/// for an hour: their ServiceTimeout covers the function's attempts, no more.
#[test]
fn the_deploy_resources_rerun_on_new_code_and_cannot_hang_the_stack() {
    let t = template();
    let function = &resources(&t)["DeployFunction"];
    let props = &function["Properties"];
    assert!(
        props["AutoPublishAlias"].is_string(),
        "DeployFunction needs AutoPublishAlias: its Version changes with its code"
    );
    assert!(
        props["Events"].is_null(),
        "the deploy function runs at deploy only"
    );
    let timeout = props["Timeout"]
        .as_u64()
        .expect("DeployFunction's own Timeout");
    assert!(timeout <= 900);
    let attempts = 1 + props["EventInvokeConfig"]["MaximumRetryAttempts"]
        .as_u64()
        .unwrap_or(2);
    for ty in ["Custom::Migrations", "Custom::ModelBundle"] {
        let found = of_type(&t, ty);
        let [(id, resource)] = found.as_slice() else {
            panic!("one {ty} resource expected, found {}", found.len());
        };
        let p = &resource["Properties"];
        assert_eq!(
            get_att(&p["ServiceToken"]),
            Some(("DeployFunction", "Arn")),
            "{id}"
        );
        assert_eq!(
            ref_to(&p["CodeVersion"]),
            Some("DeployFunction.Version"),
            "{id}: without a property that changes with the code, a deploy sends no Update"
        );
        let service_timeout = p["ServiceTimeout"].as_u64().expect("a ServiceTimeout");
        assert!(
            service_timeout >= timeout * attempts && service_timeout < 3600,
            "{id}: ServiceTimeout {service_timeout} s for {attempts} attempts of {timeout} s"
        );
    }
    // The direct URL, from its own secret, never the pooled one.
    assert_eq!(
        props["Environment"]["Variables"]["DATABASE_URL_SECRET_ARN"],
        json!({"Ref": "DirectDatabaseUrlSecretArn"}),
        "DeployFunction reads the direct URL's secret, never the pooled one"
    );
}

#[test]
fn the_model_bucket_is_made_when_none_is_named_private_versioned_encrypted_tls_only_and_retained() {
    let t = template();
    assert_eq!(t["Parameters"]["ModelBucketName"]["Default"], "");
    assert_eq!(
        t["Conditions"]["CreatesModelBucket"]["Fn::Equals"],
        json!([{"Ref": "ModelBucketName"}, ""])
    );
    let bucket = &resources(&t)["ModelBucket"];
    assert_eq!(bucket["Type"], "AWS::S3::Bucket");
    assert_eq!(bucket["Condition"], "CreatesModelBucket");
    assert_eq!(bucket["DeletionPolicy"], "Retain");
    assert_eq!(bucket["UpdateReplacePolicy"], "Retain");
    let p = &bucket["Properties"];
    assert_eq!(p["VersioningConfiguration"]["Status"], "Enabled");
    assert!(
        p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
            ["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
            .is_string()
    );
    for flag in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(p["PublicAccessBlockConfiguration"][flag], true, "{flag}");
    }
    let tls_only = of_type(&t, "AWS::S3::BucketPolicy")
        .into_iter()
        .any(|(_, bp)| {
            ref_to(&bp["Properties"]["Bucket"]) == Some("ModelBucket")
                && bp["Properties"]["PolicyDocument"]["Statement"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|s| {
                        s["Effect"] == "Deny"
                            && s["Condition"]["Bool"]["aws:SecureTransport"] == "false"
                            && as_strings(&s["Action"]) == ["s3:*"]
                            && s["Resource"].as_array().is_some_and(|r| r.len() == 2)
                    })
        });
    assert!(tls_only, "no TLS-only bucket policy on ModelBucket");
    // Every function reading the store gets the bucket made here or the one named.
    for (id, f) in of_type(&t, "AWS::Serverless::Function") {
        let bucket = &f["Properties"]["Environment"]["Variables"]["TFT_MODEL_BUCKET"];
        if !bucket.is_null() {
            assert_eq!(
                bucket["Fn::If"],
                json!(["CreatesModelBucket", {"Ref": "ModelBucket"}, {"Ref": "ModelBucketName"}]),
                "{id}"
            );
        }
    }
}

/// The S3 check catches a grant on the whole bucket and a write outside the deploy.
#[test]
fn an_s3_grant_beyond_the_prefix_or_a_write_outside_the_deploy_is_caught() {
    let text = std::fs::read_to_string(template_path()).unwrap();
    let mut t = load(&text);
    t["Resources"]["DeployFunction"]["Properties"]["Policies"][1]["Statement"][0]["Resource"]
        ["Fn::Sub"][0] = json!("arn:${AWS::Partition}:s3:::${Bucket}/*");
    let problems = check_s3(&t);
    assert!(
        problems.iter().any(|p| p.starts_with("DeployFunction")),
        "{problems:?}"
    );
    let mut t = load(&text);
    t["Resources"]["PredictFunction"]["Properties"]["Policies"][0]["Statement"][1]["Action"] =
        json!(["s3:GetObject", "s3:PutObject"]);
    let problems = check_s3(&t);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("PredictFunction") && p.contains("s3:PutObject")),
        "{problems:?}"
    );
}
