//! `tessera inspect`, as a library: a black-box auditor of any web app's session handling.
//!
//! It signs in to a running app the way a browser would, then runs the attacker's checklist of
//! OWASP WSTG session tests against it (fixation, logout replay, password-change survival,
//! privilege-change rotation, cookie attributes, identifiers in URLs, cacheable pages, token
//! randomness, idle timeout) and reports each finding with its evidence and references.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod agent;
pub mod baseline;
mod check_id;
pub mod checks;
pub mod entropy;
pub mod exchange;
pub mod login;
mod page;
pub mod report;
mod run;
pub mod stack;
pub mod target;

pub use run::{inspect, InspectError, Options};
