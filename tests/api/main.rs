//! Integration tests: the real service, a real database, a real HTTP client.

mod access;
mod architecture;
mod audit;
mod changes;
mod checkpoints;
mod commit_loss;
mod commitments;
mod consultations;
mod conventions;
mod departments;
mod districts;
mod edits;
mod evaluations;
mod faults;
mod helpers;
mod idempotency;
mod members;
mod openapi;
mod operations;
mod performance;
mod proposals;
mod rulings;
mod seed;
mod sync;
mod work_records;
mod workstations;
