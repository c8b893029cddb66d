//! The conformance suite against `ami_conformance::adapters::Tokio`.

ami_conformance::conformance_suite!(tokio, ami_conformance::adapters::Tokio);
