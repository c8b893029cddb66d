//! The adapters under test, each bridged to the blocking [`Adapter`](crate::Adapter)
//! interface.

mod blocking;
mod smol;
mod tokio;

pub use self::blocking::Blocking;
pub use self::smol::{SmolOnAsyncStd, SmolOnSmol};
pub use self::tokio::Tokio;
