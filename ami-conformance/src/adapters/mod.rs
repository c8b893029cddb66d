//! The adapters under test, each bridged to the blocking [`Adapter`](crate::Adapter)
//! interface.

mod blocking;
mod http;
mod smol;
pub(crate) mod tokio;

pub use self::blocking::Blocking;
pub use self::http::{BlockingHttp, TokioHttp};
pub use self::smol::{SmolOnAsyncStd, SmolOnSmol};
pub use self::tokio::Tokio;
