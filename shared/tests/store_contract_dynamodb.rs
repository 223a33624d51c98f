//! The store contract on the DynamoDB store, through the real SDK client against `moto_server`
//! on 127.0.0.1 (started by the test itself; a fresh table per test).

mod contract;
mod support;

contract::contract_suite!(support::dynamodb);
contract::notifications::notification_contract_suite!(support::dynamodb);
contract::audit::audit_contract_suite!(support::dynamodb);
