//! A private copy of the typed request trait that `ami-proto` is getting
//! (`ami_proto::Request`), with the same shape, so the generated impls compile
//! until it lands. Replace with `pub use ami_proto::Request;` then.

use ami_proto::{Action, Reply};

/// The error a typed request's reply parsing returns.
pub type RequestError = ami_proto::ClientError;

/// A typed request: how to build the action and what its complete reply becomes.
pub trait Request {
    /// What the request completes with.
    type Output;
    /// The action to send (with its expectations set, e.g. list or originate outcome).
    fn into_action(self) -> Action;
    /// Turns the complete reply into the output.
    fn parse(reply: Reply) -> Result<Self::Output, RequestError>;
}
