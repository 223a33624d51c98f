//! Just enough of CloudFormation to evaluate `template.yaml` offline: the YAML short tags become
//! their JSON form, and `Ref`, `Fn::GetAtt`, `Fn::Sub`, `Fn::If` (with the template's
//! conditions), `Fn::Join`, `Fn::Select` and `Fn::Split` are resolved against a set of parameter
//! values and made-up but well-formed physical ids (a stack `medichain-test` in `eu-west-1`,
//! account `123456789012`). SAM's `Globals.Function` is merged into each function the way SAM
//! does (maps merged, the function's own value wins).

#![allow(dead_code)]

use std::collections::BTreeMap;

use serde_json::{json, Map, Value as J};

pub const STACK: &str = "medichain-test";
pub const REGION: &str = "eu-west-1";
pub const ACCOUNT: &str = "123456789012";
/// What `!GetAtt SiteDistribution.DomainName` evaluates to.
pub const DISTRIBUTION_DOMAIN: &str = "d111111abcdef8.cloudfront.net";

pub fn repo_path(relative: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

/// `template.yaml`, parsed, with short tags in their long form (`!Ref X` is `{"Ref": "X"}`).
pub fn template() -> J {
    let text = std::fs::read_to_string(repo_path("template.yaml"))
        .expect("template.yaml at the repository root");
    let yaml: serde_norway::Value =
        serde_norway::from_str(&text).expect("template.yaml is valid YAML");
    normalize(&yaml)
}

fn normalize(v: &serde_norway::Value) -> J {
    use serde_norway::Value as Y;
    match v {
        Y::Null => J::Null,
        Y::Bool(b) => J::Bool(*b),
        Y::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => json!(i),
            (None, Some(f)) => json!(f),
            _ => J::Null,
        },
        Y::String(s) => J::String(s.clone()),
        Y::Sequence(items) => J::Array(items.iter().map(normalize).collect()),
        Y::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = match k {
                    Y::String(s) => s.clone(),
                    other => serde_norway::to_string(other)
                        .unwrap_or_default()
                        .trim()
                        .to_owned(),
                };
                out.insert(key, normalize(v));
            }
            J::Object(out)
        }
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = normalize(&tagged.value);
            match name {
                "Ref" => json!({ "Ref": inner }),
                "Condition" => json!({ "Condition": inner }),
                "GetAtt" => match inner {
                    J::String(s) => {
                        let (res, attr) = s.split_once('.').expect("!GetAtt Resource.Attribute");
                        json!({ "Fn::GetAtt": [res, attr] })
                    }
                    other => json!({ "Fn::GetAtt": other }),
                },
                other => json!({ format!("Fn::{other}"): inner }),
            }
        }
    }
}

/// One deployment's parameter values, over the template's defaults.
pub struct Stack<'t> {
    pub template: &'t J,
    pub params: BTreeMap<String, String>,
}

impl<'t> Stack<'t> {
    pub fn new(template: &'t J, overrides: &[(&str, &str)]) -> Self {
        let mut params = BTreeMap::new();
        if let Some(declared) = template["Parameters"].as_object() {
            for (name, p) in declared {
                if let Some(default) = p.get("Default") {
                    params.insert(name.clone(), scalar(default));
                }
            }
        }
        for (k, v) in overrides {
            assert!(
                template["Parameters"].get(*k).is_some(),
                "the template has no parameter {k}"
            );
            params.insert((*k).to_owned(), (*v).to_owned());
        }
        for name in template["Parameters"].as_object().into_iter().flatten() {
            assert!(
                params.contains_key(name.0),
                "parameter {} has no default and no value in this test deployment",
                name.0
            );
        }
        Self { template, params }
    }

    pub fn resources(&self) -> &'t Map<String, J> {
        let template: &'t J = self.template;
        template["Resources"].as_object().expect("a Resources map")
    }

    pub fn resource(&self, logical: &str) -> &'t J {
        let template: &'t J = self.template;
        template["Resources"]
            .get(logical)
            .unwrap_or_else(|| panic!("the template has no resource {logical}"))
    }

    pub fn of_type(&self, ty: &str) -> Vec<(&'t String, &'t J)> {
        self.resources()
            .iter()
            .filter(|(_, r)| r["Type"] == ty)
            .collect()
    }

    pub fn condition(&self, name: &str) -> bool {
        let c = self.template["Conditions"]
            .get(name)
            .unwrap_or_else(|| panic!("no condition {name}"));
        self.truth(c)
    }

    fn truth(&self, v: &J) -> bool {
        if let Some(name) = v.get("Condition").and_then(J::as_str) {
            return self.condition(name);
        }
        if let Some(args) = v.get("Fn::Equals") {
            let a = self.eval(&args[0]);
            let b = self.eval(&args[1]);
            return a.map(|a| scalar(&a)) == b.map(|b| scalar(&b));
        }
        if let Some(args) = v.get("Fn::Not") {
            return !self.truth(&args[0]);
        }
        if let Some(args) = v.get("Fn::And") {
            return args.as_array().unwrap().iter().all(|a| self.truth(a));
        }
        if let Some(args) = v.get("Fn::Or") {
            return args.as_array().unwrap().iter().any(|a| self.truth(a));
        }
        panic!("not a condition: {v}")
    }

    /// The value with every intrinsic resolved; `None` is `AWS::NoValue`.
    pub fn eval(&self, v: &J) -> Option<J> {
        match v {
            J::Array(items) => Some(J::Array(
                items.iter().filter_map(|i| self.eval(i)).collect(),
            )),
            J::Object(map) if map.len() == 1 => {
                let (k, arg) = map.iter().next().unwrap();
                match k.as_str() {
                    "Ref" => self.reference(arg.as_str().expect("Ref names a string")),
                    "Fn::GetAtt" => {
                        let res = arg[0].as_str().unwrap();
                        let attr = arg[1].as_str().unwrap();
                        Some(J::String(self.attribute(res, attr)))
                    }
                    "Fn::Sub" => Some(J::String(self.sub(arg))),
                    "Fn::If" => {
                        let cond = arg[0].as_str().expect("Fn::If names a condition");
                        let branch = if self.condition(cond) {
                            &arg[1]
                        } else {
                            &arg[2]
                        };
                        self.eval(branch)
                    }
                    "Fn::Join" => {
                        let sep = arg[0].as_str().unwrap();
                        let parts = self.eval(&arg[1]).unwrap();
                        let parts: Vec<String> =
                            parts.as_array().unwrap().iter().map(scalar).collect();
                        Some(J::String(parts.join(sep)))
                    }
                    "Fn::Select" => {
                        let index: usize = scalar(&self.eval(&arg[0]).unwrap()).parse().unwrap();
                        let list = self.eval(&arg[1]).unwrap();
                        Some(list[index].clone())
                    }
                    "Fn::Split" => {
                        let sep = arg[0].as_str().unwrap();
                        let text = scalar(&self.eval(&arg[1]).unwrap());
                        Some(J::Array(
                            text.split(sep).map(|s| J::String(s.to_owned())).collect(),
                        ))
                    }
                    "Condition" => Some(J::Bool(self.condition(arg.as_str().unwrap()))),
                    _ => Some(self.eval_map(map)),
                }
            }
            J::Object(map) => Some(self.eval_map(map)),
            other => Some(other.clone()),
        }
    }

    fn eval_map(&self, map: &Map<String, J>) -> J {
        let mut out = Map::new();
        for (k, v) in map {
            if let Some(v) = self.eval(v) {
                out.insert(k.clone(), v);
            }
        }
        J::Object(out)
    }

    pub fn eval_str(&self, v: &J) -> String {
        scalar(
            &self
                .eval(v)
                .unwrap_or_else(|| panic!("{v} evaluates to no value")),
        )
    }

    fn reference(&self, name: &str) -> Option<J> {
        let s = |v: &str| Some(J::String(v.to_owned()));
        match name {
            "AWS::StackName" => return s(STACK),
            "AWS::Region" => return s(REGION),
            "AWS::AccountId" => return s(ACCOUNT),
            "AWS::Partition" => return s("aws"),
            "AWS::URLSuffix" => return s("amazonaws.com"),
            "AWS::NoValue" => return None,
            _ => {}
        }
        if let Some(v) = self.params.get(name) {
            return s(v);
        }
        let r = self.resource(name);
        let props = &r["Properties"];
        let named = |key: &str| self.eval_str(&props[key]);
        let id = match r["Type"].as_str().unwrap() {
            "AWS::DynamoDB::Table" => format!("{STACK}-{name}-1A2B3C4D"),
            "AWS::Serverless::Function" => named("FunctionName"),
            "AWS::Events::EventBus" | "AWS::Scheduler::ScheduleGroup" => named("Name"),
            "AWS::Logs::LogGroup" => named("LogGroupName"),
            "AWS::SQS::Queue" => format!(
                "https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{}",
                self.queue_name(name)
            ),
            "AWS::SNS::Topic" => format!("arn:aws:sns:{REGION}:{ACCOUNT}:{}", named("TopicName")),
            "AWS::Cognito::UserPool" => format!("{REGION}_TestPool1"),
            "AWS::Cognito::UserPoolClient" => "1example23456789client".to_owned(),
            "AWS::ApiGatewayV2::Api" => "a1b2c3d4e5".to_owned(),
            "AWS::S3::Bucket" => format!("{}-{}-xyz", STACK, name.to_lowercase()),
            "AWS::CloudFront::Distribution" => "E1EXAMPLE2DIST".to_owned(),
            _ => format!("{name}-id"),
        };
        s(&id)
    }

    fn queue_name(&self, logical: &str) -> String {
        format!("{STACK}-{logical}-QUEUE1")
    }

    pub fn attribute(&self, res: &str, attr: &str) -> String {
        let r = self.resource(res);
        let ty = r["Type"].as_str().unwrap();
        let reference = || self.eval_str(&json!({ "Ref": res }));
        match (ty, attr) {
            ("AWS::DynamoDB::Table", "Arn") => {
                format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{}", reference())
            }
            ("AWS::DynamoDB::Table", "StreamArn") => format!(
                "arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{}/stream/2030-01-01T00:00:00.000",
                reference()
            ),
            ("AWS::Serverless::Function", "Arn") => {
                format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{}", reference())
            }
            ("AWS::IAM::Role", "Arn") => format!("arn:aws:iam::{ACCOUNT}:role/{STACK}-{res}-R0LE"),
            ("AWS::SQS::Queue", "Arn") => {
                format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{}", self.queue_name(res))
            }
            ("AWS::SQS::Queue", "QueueName") => self.queue_name(res),
            ("AWS::Events::EventBus", "Arn") => {
                format!(
                    "arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{}",
                    reference()
                )
            }
            ("AWS::Logs::LogGroup", "Arn") => {
                format!(
                    "arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{}:*",
                    reference()
                )
            }
            ("AWS::S3::Bucket", "Arn") => format!("arn:aws:s3:::{}", reference()),
            ("AWS::S3::Bucket", "RegionalDomainName") => {
                format!("{}.s3.{REGION}.amazonaws.com", reference())
            }
            ("AWS::CloudFront::Distribution", "DomainName") => DISTRIBUTION_DOMAIN.to_owned(),
            _ => format!("{res}.{attr}"),
        }
    }

    fn sub(&self, arg: &J) -> String {
        let (text, vars) = match arg {
            J::String(s) => (s.as_str(), Map::new()),
            J::Array(parts) => (
                parts[0].as_str().expect("Fn::Sub text"),
                parts[1].as_object().cloned().unwrap_or_default(),
            ),
            other => panic!("bad Fn::Sub {other}"),
        };
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}').expect("closed ${");
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(v) = vars.get(name) {
                out.push_str(&self.eval_str(v));
            } else if let Some((res, attr)) = name
                .split_once('.')
                .filter(|(res, _)| self.template["Resources"].get(*res).is_some())
            {
                out.push_str(&self.attribute(res, attr));
            } else {
                out.push_str(&self.eval_str(&json!({ "Ref": name })));
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// A SAM function property, from the function or else from `Globals.Function`.
    pub fn function_property(&self, function: &J, key: &str) -> Option<J> {
        let own = function["Properties"].get(key);
        let global = self.template["Globals"]["Function"].get(key);
        match (own, global) {
            (Some(J::Object(own)), Some(J::Object(global))) => {
                let mut merged = global.clone();
                for (k, v) in own {
                    merged.insert(k.clone(), v.clone());
                }
                Some(J::Object(merged))
            }
            (Some(v), _) | (None, Some(v)) => Some(v.clone()),
            (None, None) => None,
        }
    }

    /// A function's environment as Lambda would see it in this deployment.
    pub fn environment(&self, function: &J) -> BTreeMap<String, String> {
        let global = self.template["Globals"]["Function"]["Environment"]["Variables"].clone();
        let own = function["Properties"]["Environment"]["Variables"].clone();
        let mut vars = BTreeMap::new();
        for source in [global, own] {
            if let J::Object(map) = source {
                for (k, v) in map {
                    match self.eval(&v) {
                        Some(v) => {
                            vars.insert(k, scalar(&v));
                        }
                        None => {
                            vars.remove(&k);
                        }
                    }
                }
            }
        }
        vars
    }
}

/// A scalar as the string CloudFormation would pass on.
pub fn scalar(v: &J) -> String {
    match v {
        J::String(s) => s.clone(),
        J::Number(n) => n.to_string(),
        J::Bool(b) => b.to_string(),
        other => panic!("expected a scalar, got {other}"),
    }
}

/// A string or a list of strings, as IAM's `Action` and `Resource` allow.
pub fn strings(v: &J) -> Vec<String> {
    match v {
        J::Array(items) => items.iter().map(scalar).collect(),
        other => vec![scalar(other)],
    }
}
