//! The conformance suite against `ami_conformance::adapters::Blocking`.

ami_conformance::conformance_suite!(blocking, ami_conformance::adapters::Blocking);
