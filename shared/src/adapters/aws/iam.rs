//! The IAM permissions the AWS adapters need: for each adapter (or each role an adapter plays),
//! the actions of the SDK calls it makes, and for each way a function binary wires its adapters,
//! which of them it gets. `template.yaml` grants every function exactly these actions, on the
//! stack's own resources only.
//!
//! `shared/tests/template_consistency.rs` holds this list, the adapters' source and the template
//! against each other: an SDK call without its action here, an action here that no call makes,
//! a function wired in a way not listed here, or a policy granting more or less than its wiring
//! needs, each fails that test. When you add an SDK call, add its action here and to the policy of
//! every function whose wiring uses the adapter.

/// One adapter capability and the IAM actions its SDK calls need.
#[derive(Debug)]
pub struct AdapterAccess {
    /// The adapter type (and the trait, when one type plays several roles).
    pub adapter: &'static str,
    /// Where its SDK calls are, relative to `src/adapters/aws/`: `file.rs` for every call in the
    /// file, or `file.rs#Trait` for the calls inside `impl Trait for ...` in that file.
    pub sources: &'static [&'static str],
    /// The actions of those calls, as `service:Action`.
    pub actions: &'static [&'static str],
    /// Actions AWS checks on the caller's behalf during those calls, which a policy may need
    /// although no SDK call is named after them.
    pub implied: &'static [&'static str],
    /// Calls made only to provision a local endpoint (moto), inside `*_if_missing` helpers. In
    /// AWS the template creates these resources; they are never granted.
    pub local_only: &'static [&'static str],
}

/// Every store port on the one table (the audit trail and the side effects' notifications written
/// with `BatchWriteItem`, both participants' profiles read with `BatchGetItem`).
/// `TransactWriteItems` is authorised per item: its `Put`s and `Delete`s need `PutItem` and
/// `DeleteItem` (IAM has no action of its own for the transaction).
pub const DYNAMODB_STORE: AdapterAccess = AdapterAccess {
    adapter: "DynamoDbStore",
    sources: &[
        "mod.rs",
        "appointments.rs",
        "audit.rs",
        "directory.rs",
        "dynamodb_notifications.rs",
        "idempotency.rs",
        "table.rs",
    ],
    actions: &[
        "dynamodb:BatchGetItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:DeleteItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
    ],
    implied: &[],
    local_only: &[
        "dynamodb:CreateTable",
        "dynamodb:DescribeTable",
        "dynamodb:UpdateTimeToLive",
    ],
};

/// The one-time reminder schedules. Creating a schedule hands Scheduler the role it runs as,
/// which IAM checks as `iam:PassRole` on that role.
pub const SCHEDULER_REMINDERS: AdapterAccess = AdapterAccess {
    adapter: "SchedulerReminders",
    sources: &["scheduler.rs"],
    actions: &["scheduler:CreateSchedule", "scheduler:DeleteSchedule"],
    implied: &["iam:PassRole"],
    local_only: &["scheduler:CreateScheduleGroup"],
};

/// SMS to phone numbers and push to device endpoints.
pub const SNS_NOTIFIER: AdapterAccess = AdapterAccess {
    adapter: "SnsNotifier as Notifier",
    sources: &["sns.rs#Notifier"],
    actions: &["sns:Publish"],
    implied: &[],
    local_only: &[],
};

/// Device registration: an SNS endpoint per device token on the configured platform application.
pub const SNS_PUSH_REGISTRAR: AdapterAccess = AdapterAccess {
    adapter: "SnsNotifier as PushRegistrar",
    sources: &["sns.rs#PushRegistrar"],
    actions: &[
        "sns:CreatePlatformEndpoint",
        "sns:DeleteEndpoint",
        "sns:SetEndpointAttributes",
    ],
    implied: &[],
    local_only: &[],
};

/// Domain events on the stack's bus.
pub const EVENTBRIDGE_PUBLISHER: AdapterAccess = AdapterAccess {
    adapter: "EventBridgePublisher",
    sources: &["eventbridge.rs"],
    actions: &["events:PutEvents"],
    implied: &[],
    local_only: &["events:CreateEventBus"],
};

/// The Jitsi key or app secret, read once at cold start. Through the
/// `/aws/reference/secretsmanager/...` name SSM reads a Secrets Manager secret with the caller's
/// `secretsmanager:GetSecretValue`; a SecureString under a customer managed key needs
/// `kms:Decrypt` on that key.
pub const SSM_PARAMETERS: AdapterAccess = AdapterAccess {
    adapter: "SsmParameters",
    sources: &["parameters.rs"],
    actions: &["ssm:GetParameter"],
    implied: &["secretsmanager:GetSecretValue", "kms:Decrypt"],
    local_only: &[],
};

/// Every adapter access above.
pub const ADAPTERS: &[&AdapterAccess] = &[
    &DYNAMODB_STORE,
    &SCHEDULER_REMINDERS,
    &SNS_NOTIFIER,
    &SNS_PUSH_REGISTRAR,
    &EVENTBRIDGE_PUBLISHER,
    &SSM_PARAMETERS,
];

/// One way a function's `main.rs` builds its adapters: the call it makes, and the adapters that
/// call wires.
#[derive(Debug)]
pub struct Wiring {
    /// The call as it appears in `main.rs` (whitespace ignored).
    pub call: &'static str,
    pub adapters: &'static [&'static AdapterAccess],
}

/// Every wiring a function binary may use. A function's permissions are the union over the
/// wirings its `main.rs` calls.
pub const WIRINGS: &[Wiring] = &[
    // The API handlers on the DynamoDB store.
    Wiring {
        call: "bootstrap::aws_deps()",
        adapters: &[&DYNAMODB_STORE],
    },
    // join-call: the Jitsi key from SSM on top of the API's store.
    Wiring {
        call: "bootstrap::with_jitsi_secrets(",
        adapters: &[&SSM_PARAMETERS],
    },
    // register-device / remove-device: the store plus SNS endpoints.
    Wiring {
        call: "push_api_deps()",
        adapters: &[&DYNAMODB_STORE, &SNS_PUSH_REGISTRAR],
    },
    // The stream consumer schedules reminders and may send "starting" at once.
    Wiring {
        call: "effect_deps(EffectFunction::AppointmentEvents)",
        adapters: &[
            &DYNAMODB_STORE,
            &SCHEDULER_REMINDERS,
            &SNS_NOTIFIER,
            &EVENTBRIDGE_PUBLISHER,
        ],
    },
    // The Scheduler target never schedules and publishes no domain event (both are wired to a
    // stand-in that refuses).
    Wiring {
        call: "effect_deps(EffectFunction::SendReminder)",
        adapters: &[&DYNAMODB_STORE, &SNS_NOTIFIER],
    },
];
