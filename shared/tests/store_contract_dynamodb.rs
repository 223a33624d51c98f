//! The store contract on the DynamoDB store, through the real SDK client against `moto_server`
//! on 127.0.0.1 (started by the test itself; a fresh table per test).

mod contract;
mod support;

contract::contract_suite!(support::dynamodb);
// Not `contract_suite!(isolated ...)`: moto does not isolate concurrent transactions (see the
// macro), so the cap's race is proven on the embedded store only; on DynamoDB it rests on the
// cap's condition being part of the booking's one transaction (checked above, one at a time).
contract::notifications::notification_contract_suite!(support::dynamodb);
contract::audit::audit_contract_suite!(support::dynamodb);
