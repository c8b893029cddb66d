//! The conformance suite against `ami_conformance::adapters::SmolOnAsyncStd`.

ami_conformance::conformance_suite!(async_std, ami_conformance::adapters::SmolOnAsyncStd);
