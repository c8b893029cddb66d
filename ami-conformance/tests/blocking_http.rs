//! The HTTP-capable scenarios against `ami_conformance::adapters::BlockingHttp`.

ami_conformance::conformance_suite_http!(blocking_http, ami_conformance::adapters::BlockingHttp);
