//! The HTTP-capable scenarios against `ami_conformance::adapters::TokioHttp`.

ami_conformance::conformance_suite_http!(tokio_http, ami_conformance::adapters::TokioHttp);
