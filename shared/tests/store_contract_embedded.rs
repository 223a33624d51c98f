//! The store contract on the embedded SQLite store (the reference implementation).

mod contract;
mod support;

contract::contract_suite!(support::embedded);
contract::notifications::notification_contract_suite!(support::embedded);
contract::audit::audit_contract_suite!(support::embedded);
