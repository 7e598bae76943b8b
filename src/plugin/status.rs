//! Core errors as the gRPC statuses Nomad acts on.
//!
//! Nomad restarts a task whose StartTask failed only when the error is *recoverable*: status
//! FAILED_PRECONDITION carrying a `RecoverableError { recoverable: true }` detail whose code
//! matches the status (grpc-go drops details that disagree). Every other error fails the task
//! for good, so only transient conditions (systemd busy or unreachable) are marked recoverable.

use prost::Message;
use tonic::codegen::Bytes;
use tonic::{Code, Status};

use super::proto::{rpc, structs};
use crate::core::Error;
use crate::core::cty::ConfigError;

const RECOVERABLE_TYPE_URL: &str =
    "type.googleapis.com/hashicorp.nomad.plugins.shared.structs.RecoverableError";

/// The status for a core error.
pub fn from_core(e: &Error) -> Status {
    let message = e.to_string();
    match e {
        Error::InvalidConfig { .. } | Error::InvalidArgument { .. } => {
            Status::invalid_argument(message)
        }
        Error::NotFound(_) => Status::not_found(message),
        Error::NoSuchProcess(_) => Status::failed_precondition(message),
        Error::AlreadyExists(_) => Status::already_exists(message),
        e if e.is_transient() => recoverable(message),
        _ => Status::internal(message),
    }
}

/// A job's config that cannot be decoded: the author's mistake, not worth a retry.
pub fn from_config(what: &str, e: &ConfigError) -> Status {
    Status::invalid_argument(format!("invalid {what}: {e}"))
}

/// An error Nomad's restart policy may retry.
pub fn recoverable(message: String) -> Status {
    let code = Code::FailedPrecondition;
    let detail = structs::RecoverableError { recoverable: true };
    let details = rpc::Status {
        code: code as i32,
        message: message.clone(),
        details: vec![prost_types::Any {
            type_url: RECOVERABLE_TYPE_URL.to_string(),
            value: detail.encode_to_vec(),
        }],
    };
    Status::with_details(code, message, Bytes::from(details.encode_to_vec()))
}

/// The plugin has not been configured yet (SetConfig with Nomad's settings not called).
pub fn not_configured() -> Status {
    Status::failed_precondition("the plugin has not been configured by the Nomad client yet")
}

/// A task id this plugin does not track.
pub fn unknown_task(id: &str) -> Status {
    Status::not_found(format!("task not found for given id: {id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_errors_are_recoverable_with_a_matching_detail() {
        let s = from_core(&Error::Unreachable {
            bus: "system",
            reason: "gone".into(),
        });
        assert_eq!(s.code(), Code::FailedPrecondition);
        let details = rpc::Status::decode(s.details()).unwrap();
        assert_eq!(details.code, Code::FailedPrecondition as i32);
        assert_eq!(details.details[0].type_url, RECOVERABLE_TYPE_URL);
        let detail = structs::RecoverableError::decode(&details.details[0].value[..]).unwrap();
        assert!(detail.recoverable);
    }

    #[test]
    fn config_errors_are_final() {
        let s = from_core(&Error::invalid("user", "no such user"));
        assert_eq!(s.code(), Code::InvalidArgument);
        assert!(s.details().is_empty());
    }
}
