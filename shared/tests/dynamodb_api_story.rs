//! The API story (book with an idempotency key, replay, list, reschedule, book again, cancel) on
//! the DynamoDB store against moto, wired as the Lambda functions wire it, watching what the
//! adapter sends: every user query is a key or index lookup (no `Scan` anywhere), a booking is
//! exactly one `TransactWriteItems` (with its audit event and the booking cap) and no read. Then the table
//! is read with boto3, not with our code, and holds exactly the items the story implies.

mod support;

use std::process::Command;

use aws_sdk_dynamodb::Client;
use http::StatusCode;
use medichain::adapters::aws::DynamoDbStore;
use medichain::api::Deps;
use medichain::config::AppConfig;
use medichain::ports::Directory;
use serde_json::Value;

use support::api::{assert_status, book, call, doctor_caller, future_slot, json_of, patient};
use support::ops::{ops, OperationCounter};
use support::{doctor, moto, patient_profile};

/// Every item of `table`, read by boto3 (DynamoDB JSON), independent of the adapter.
fn items_read_by_boto3(table: &str) -> Vec<Value> {
    const SCRIPT: &str = r#"
import json, sys
import boto3
client = boto3.client("dynamodb", endpoint_url=sys.argv[1], region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
items, args = [], {"TableName": sys.argv[2], "ConsistentRead": True}
while True:
    page = client.scan(**args)
    items += page["Items"]
    if "LastEvaluatedKey" not in page:
        break
    args["ExclusiveStartKey"] = page["LastEvaluatedKey"]
print(json.dumps(items))
"#;
    let out = Command::new("python3")
        .args(["-c", SCRIPT, &moto::server().endpoint, table])
        .output()
        .expect("python3 runs (it comes with moto)");
    assert!(
        out.status.success(),
        "boto3 could not read the table (pip install boto3): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON list of items")
}

fn attr<'a>(item: &'a Value, name: &str) -> &'a str {
    item[name]["S"]
        .as_str()
        .or_else(|| item[name]["N"].as_str())
        .unwrap_or_else(|| panic!("{name} missing in {item}"))
}

struct Story {
    deps: Deps,
    counter: OperationCounter,
    table: String,
}

async fn story_on_moto() -> Story {
    let table = support::dynamodb().await.store.table_name().to_owned();
    let counter = OperationCounter::default();
    let client = Client::from_conf(moto::config().interceptor(counter.clone()).build());
    let store = DynamoDbStore::new(client.clone(), table.clone());
    store
        .put_doctor(&doctor("doc-1", "Ada Lane"))
        .await
        .unwrap();
    store
        .put_user(&patient_profile("pat-1", "Jordan Rivera"))
        .await
        .unwrap();
    counter.take();
    // Wired as the Lambda functions wire it (doctor lookups from the per-container cache).
    Story {
        deps: medichain::bootstrap::deps_on(client, table.clone(), AppConfig::default()),
        counter,
        table,
    }
}

#[tokio::test]
async fn the_api_story_uses_keys_and_indexes_and_leaves_exactly_the_expected_items() {
    let Story {
        deps,
        counter,
        table,
    } = story_on_moto().await;
    let me = patient("pat-1");
    let doc = doctor("doc-1", "Ada Lane");
    let (first, second, third) = (
        future_slot(&doc, 0),
        future_slot(&doc, 1),
        future_slot(&doc, 2),
    );

    let doctors = call(&deps, "list-doctors", &me, &[], &[], None, None).await;
    assert_status(&doctors, StatusCode::OK);
    assert_eq!(counter.take(), ops(&[("Query", 1)]));

    let date = &first[..10];
    let slots = call(
        &deps,
        "list-slots",
        &me,
        &[("id", "doc-1")],
        &[("date", date)],
        None,
        None,
    )
    .await;
    assert_status(&slots, StatusCode::OK);
    // The doctor comes from the directory the listing loaded: only the taken slots are read.
    assert_eq!(counter.take(), ops(&[("Query", 1)]));

    // Booking with a key: the doctor comes from the cached directory and the key is not claimed
    // first; one transaction writes the appointment, the slot lock, the key's completed record,
    // the audit event and the patient's booking cap, with no read before it.
    let booked = book(&deps, &me, "doc-1", &first, Some("story-key")).await;
    assert_status(&booked, StatusCode::CREATED);
    assert_eq!(counter.take(), ops(&[("TransactWriteItems", 1)]));
    let a = json_of(&booked)["id"].as_str().unwrap().to_owned();

    // The retry's transaction is refused by the key's record (it writes nothing: the items read
    // back below say so), and the answer is read from that record.
    let replayed = book(&deps, &me, "doc-1", &first, Some("story-key")).await;
    assert_status(&replayed, StatusCode::CREATED);
    assert_eq!(replayed.headers["idempotent-replayed"], "true");
    assert_eq!(json_of(&replayed)["id"], a.as_str());
    assert_eq!(
        counter.take(),
        ops(&[("GetItem", 1), ("TransactWriteItems", 1)])
    );

    let mine = call(&deps, "list-appointments", &me, &[], &[], None, None).await;
    assert_status(&mine, StatusCode::OK);
    assert_eq!(json_of(&mine)["items"].as_array().unwrap().len(), 1);
    assert_eq!(counter.take(), ops(&[("Query", 1), ("BatchWriteItem", 1)]));

    let moved = call(
        &deps,
        "reschedule-appointment",
        &me,
        &[("id", &a)],
        &[],
        Some(serde_json::json!({ "start": second })),
        None,
    )
    .await;
    assert_status(&moved, StatusCode::OK);
    assert_eq!(
        counter.take(),
        ops(&[
            ("GetItem", 1),
            ("TransactWriteItems", 1),
            ("BatchWriteItem", 1)
        ])
    );

    let other = book(&deps, &me, "doc-1", &third, None).await;
    assert_status(&other, StatusCode::CREATED);
    assert_eq!(counter.take(), ops(&[("TransactWriteItems", 1)]));
    let b = json_of(&other)["id"].as_str().unwrap().to_owned();

    let cancelled = call(
        &deps,
        "cancel-appointment",
        &doctor_caller("doc-1"),
        &[("id", &a)],
        &[],
        Some(serde_json::json!({})),
        None,
    )
    .await;
    assert_status(&cancelled, StatusCode::OK);
    assert_eq!(
        counter.take(),
        ops(&[
            ("GetItem", 1),
            ("TransactWriteItems", 1),
            ("BatchWriteItem", 1)
        ])
    );

    let schedule = call(
        &deps,
        "list-appointments",
        &doctor_caller("doc-1"),
        &[],
        &[],
        None,
        None,
    )
    .await;
    assert_status(&schedule, StatusCode::OK);
    let got = call(
        &deps,
        "get-appointment",
        &me,
        &[("id", &b)],
        &[],
        None,
        None,
    )
    .await;
    assert_status(&got, StatusCode::OK);
    assert_eq!(
        counter.take(),
        ops(&[("GetItem", 1), ("Query", 1), ("BatchWriteItem", 2)])
    );

    // What boto3 finds: the directory and profile items, both appointments, one slot lock (the
    // cancelled appointment released its slot), and the completed idempotency record.
    let items = items_read_by_boto3(&table);
    // The audit trail: one item per read or change, per appointment (a: booked, listed,
    // rescheduled, cancelled, listed by the doctor; b: booked, listed by the doctor, read).
    let audit_items = |id: &str| {
        items
            .iter()
            .filter(|i| attr(i, "pk") == format!("AUDIT#{id}"))
            .inspect(|i| assert_eq!(attr(i, "entity"), "audit"))
            .count()
    };
    assert_eq!((audit_items(&a), audit_items(&b)), (5, 3));
    let mut keys: Vec<(String, String)> = items
        .iter()
        .filter(|i| !attr(i, "pk").starts_with("AUDIT#"))
        .map(|i| (attr(i, "pk").to_owned(), attr(i, "sk").to_owned()))
        .collect();
    keys.sort();
    let third_key = medichain::adapters::sortable_time(
        chrono::DateTime::parse_from_rfc3339(&third)
            .unwrap()
            .with_timezone(&chrono::Utc),
    );
    let mut expected = vec![
        (format!("APPT#{a}"), "APPT".to_owned()),
        (format!("APPT#{b}"), "APPT".to_owned()),
        ("DIRECTORY#DOCTORS".to_owned(), "DOCTOR#doc-1".to_owned()),
        ("DOCTOR#doc-1#SLOTS".to_owned(), third_key),
        ("IDEMP#pat-1#story-key".to_owned(), "IDEMP".to_owned()),
        ("USER#pat-1".to_owned(), "BOOKINGS".to_owned()),
        ("USER#pat-1".to_owned(), "PROFILE".to_owned()),
    ];
    expected.sort();
    assert_eq!(keys, expected);

    let find = |pk: &str| {
        items
            .iter()
            .find(|i| attr(i, "pk") == pk)
            .unwrap_or_else(|| panic!("no item {pk}"))
    };
    let first_appointment = find(&format!("APPT#{a}"));
    assert_eq!(attr(first_appointment, "status"), "cancelled");
    assert_eq!(attr(first_appointment, "version"), "3");
    assert_eq!(attr(first_appointment, "doctor_pk"), "DOCTOR#doc-1");
    assert_eq!(attr(first_appointment, "patient_pk"), "PATIENT#pat-1");
    assert_eq!(attr(find(&format!("APPT#{b}")), "status"), "booked");
    // The booking cap's set names both bookings: the cancelled one is taken out only when the
    // set is full (pruning reads, so the happy path does not).
    let holds = items
        .iter()
        .find(|i| attr(i, "sk") == "BOOKINGS")
        .expect("the patient's BOOKINGS item");
    let mut held: Vec<&str> = holds["held"]["SS"]
        .as_array()
        .expect("held is a string set")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    held.sort();
    let mut both = [a.as_str(), b.as_str()];
    both.sort();
    assert_eq!(held, both);
    assert_eq!(attr(find("DOCTOR#doc-1#SLOTS"), "appointment_id"), b);
    let record = find("IDEMP#pat-1#story-key");
    assert_eq!(attr(record, "status"), "completed");
    assert_eq!(attr(record, "response_status"), "201");
    let expires: i64 = attr(record, "expires_at").parse().unwrap();
    let in_a_day = chrono::Utc::now().timestamp() + 24 * 3600;
    assert!(
        (in_a_day - 60..=in_a_day + 60).contains(&expires),
        "{expires}"
    );
}
