//! `template.yaml` declares the table the DynamoDB adapter expects: the same keys, indexes,
//! stream and TTL as `medichain::adapters::aws::table`, and as `create_table_if_missing` builds
//! on moto. A change on one side without the other fails here, not in a deployment.

mod support;

use std::collections::BTreeMap;

use medichain::adapters::aws::{INDEXES, PARTITION_KEY, SORT_KEY, STREAM_VIEW, TTL_ATTRIBUTE};
use serde_norway::Value;

/// The template, parsed. CloudFormation's short tags (`!Ref`, `!GetAtt`, `!Sub`) come out as
/// tagged values, which is all a structural check needs.
fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    let text = std::fs::read_to_string(path).expect("template.yaml at the repository root");
    serde_norway::from_str(&text).expect("template.yaml is valid YAML")
}

fn table() -> Value {
    let t = template();
    assert_eq!(t["Transform"], "AWS::Serverless-2016-10-31");
    t["Resources"]["AppTable"].clone()
}

fn text(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v:?}"))
}

/// `KeySchema` as (HASH, RANGE) attribute names.
fn key_schema(v: &Value) -> (String, String) {
    let mut hash = None;
    let mut range = None;
    for k in v.as_sequence().expect("a key schema list") {
        let name = text(&k["AttributeName"]).to_owned();
        match text(&k["KeyType"]) {
            "HASH" => hash = Some(name),
            "RANGE" => range = Some(name),
            other => panic!("unknown key type {other}"),
        }
    }
    (hash.expect("a HASH key"), range.expect("a RANGE key"))
}

#[test]
fn the_table_is_retained_on_demand_and_protected() {
    let table = table();
    assert_eq!(table["Type"], "AWS::DynamoDB::Table");
    assert_eq!(table["DeletionPolicy"], "Retain");
    assert_eq!(table["UpdateReplacePolicy"], "Retain");
    let p = &table["Properties"];
    assert_eq!(p["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(
        p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    assert_eq!(p["SSESpecification"]["SSEEnabled"], true);
}

#[test]
fn keys_indexes_stream_and_ttl_match_the_adapter() {
    let p = table()["Properties"].clone();
    assert_eq!(
        key_schema(&p["KeySchema"]),
        (PARTITION_KEY.to_owned(), SORT_KEY.to_owned())
    );

    let declared: BTreeMap<String, (String, String, String)> = p["GlobalSecondaryIndexes"]
        .as_sequence()
        .expect("a list of indexes")
        .iter()
        .map(|gsi| {
            let (hash, range) = key_schema(&gsi["KeySchema"]);
            let projection = text(&gsi["Projection"]["ProjectionType"]).to_owned();
            (
                text(&gsi["IndexName"]).to_owned(),
                (hash, range, projection),
            )
        })
        .collect();
    let expected: BTreeMap<String, (String, String, String)> = INDEXES
        .iter()
        .map(|i| {
            (
                i.name.to_owned(),
                (
                    i.partition_key.to_owned(),
                    i.sort_key.to_owned(),
                    "ALL".to_owned(),
                ),
            )
        })
        .collect();
    assert_eq!(declared, expected);

    // Exactly the key attributes are declared, all strings (CloudFormation rejects extras).
    let attributes: BTreeMap<String, String> = p["AttributeDefinitions"]
        .as_sequence()
        .expect("attribute definitions")
        .iter()
        .map(|a| {
            (
                text(&a["AttributeName"]).to_owned(),
                text(&a["AttributeType"]).to_owned(),
            )
        })
        .collect();
    let mut key_attributes = vec![PARTITION_KEY, SORT_KEY];
    for i in INDEXES {
        key_attributes.extend([i.partition_key, i.sort_key]);
    }
    let expected: BTreeMap<String, String> = key_attributes
        .into_iter()
        .map(|a| (a.to_owned(), "S".to_owned()))
        .collect();
    assert_eq!(attributes, expected);

    assert_eq!(p["StreamSpecification"]["StreamViewType"], STREAM_VIEW);
    assert_eq!(p["TimeToLiveSpecification"]["AttributeName"], TTL_ATTRIBUTE);
    assert_eq!(p["TimeToLiveSpecification"]["Enabled"], true);
}

/// The table the tests and the local server create on moto is the one the template declares.
#[tokio::test]
async fn the_table_created_for_local_endpoints_matches_the_template() {
    let store = support::dynamodb().await.store;
    let client = support::moto::client().await;
    let described = client
        .describe_table()
        .table_name(store.table_name())
        .send()
        .await
        .expect("the table exists")
        .table
        .expect("a table description");
    let p = table()["Properties"].clone();

    let keys = |schema: &[aws_sdk_dynamodb::types::KeySchemaElement]| {
        let find = |kind: &str| {
            schema
                .iter()
                .find(|k| k.key_type().as_str() == kind)
                .map(|k| k.attribute_name().to_owned())
                .expect("a key")
        };
        (find("HASH"), find("RANGE"))
    };
    assert_eq!(keys(described.key_schema()), key_schema(&p["KeySchema"]));
    let mut created: Vec<(String, (String, String))> = described
        .global_secondary_indexes()
        .iter()
        .map(|g| {
            (
                g.index_name().unwrap_or_default().to_owned(),
                keys(g.key_schema()),
            )
        })
        .collect();
    created.sort();
    let mut declared: Vec<(String, (String, String))> = p["GlobalSecondaryIndexes"]
        .as_sequence()
        .expect("indexes")
        .iter()
        .map(|g| {
            (
                text(&g["IndexName"]).to_owned(),
                key_schema(&g["KeySchema"]),
            )
        })
        .collect();
    declared.sort();
    assert_eq!(created, declared);
    let stream = described
        .stream_specification()
        .and_then(|s| s.stream_view_type())
        .map(|v| v.as_str().to_owned());
    assert_eq!(
        stream.as_deref(),
        p["StreamSpecification"]["StreamViewType"].as_str()
    );

    let ttl = client
        .describe_time_to_live()
        .table_name(store.table_name())
        .send()
        .await
        .expect("TTL is described");
    let attribute = ttl
        .time_to_live_description()
        .and_then(|d| d.attribute_name())
        .map(str::to_owned);
    assert_eq!(
        attribute.as_deref(),
        p["TimeToLiveSpecification"]["AttributeName"].as_str()
    );
}
