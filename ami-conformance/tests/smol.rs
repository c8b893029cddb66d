//! The conformance suite against `ami_conformance::adapters::SmolOnSmol`.

ami_conformance::conformance_suite!(smol, ami_conformance::adapters::SmolOnSmol);
