//! Error mapping through the real SDK, against the stub: each failure EC2 can give
//! becomes its own port error with a hint, after the SDK's retries where it retries.

use std::time::{Duration, Instant};

use lxpack_aws::Ec2AmiCatalog;
use lxpack_core::domain::AmiId;
use lxpack_core::ports::{AmiCatalog, AmiCatalogError};

use crate::helpers::{REGION, app, moto_config, unique_token};
use crate::stub::{Reply, Stub, ec2_error};

fn ami() -> AmiId {
    AmiId::parse("ami-0123456789abcdef0").unwrap()
}

async fn describe_with(stub: &Stub, attempts: u32) -> AmiCatalogError {
    let catalog = Ec2AmiCatalog::new(
        moto_config(&stub.url)
            .max_attempts(attempts)
            .build()
            .unwrap(),
    );
    catalog.describe_ami(REGION, &ami()).await.unwrap_err()
}

#[tokio::test]
async fn throttling_is_retried_then_reported() {
    let stub =
        Stub::start(|_| ec2_error(503, "RequestLimitExceeded", "Request limit exceeded.")).await;
    let error = describe_with(&stub, 3).await;
    let AmiCatalogError::Throttled { message } = &error else {
        panic!("{error:?}")
    };
    assert!(
        message.starts_with("RequestLimitExceeded: Request limit exceeded."),
        "{message}"
    );
    assert!(message.contains("after 3 attempts"), "{message}");
    assert_eq!(
        stub.requests_for("DescribeImages").len(),
        3,
        "the SDK retries"
    );

    // Listing maps the same way.
    let catalog = Ec2AmiCatalog::new(moto_config(&stub.url).max_attempts(1).build().unwrap());
    let error = catalog
        .list_app_amis(&app(&unique_token(), "web", None))
        .await
        .unwrap_err();
    assert!(
        matches!(error, AmiCatalogError::Throttled { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn access_denied_is_not_retried() {
    let stub = Stub::start(|_| {
        ec2_error(
            403,
            "UnauthorizedOperation",
            "You are not authorized to perform this operation.",
        )
    })
    .await;
    let error = describe_with(&stub, 3).await;
    let AmiCatalogError::AccessDenied { message } = &error else {
        panic!("{error:?}")
    };
    assert!(
        message.contains("UnauthorizedOperation: You are not authorized"),
        "{message}"
    );
    assert!(
        message.contains("need ec2:DescribeImages in eu-west-1"),
        "{message}"
    );
    assert_eq!(stub.requests().len(), 1);
}

#[tokio::test]
async fn rejected_credentials_are_access_denied_with_a_renewal_hint() {
    let stub = Stub::start(|_| {
        ec2_error(
            401,
            "AuthFailure",
            "AWS was not able to validate the provided access credentials",
        )
    })
    .await;
    let error = describe_with(&stub, 2).await;
    let AmiCatalogError::AccessDenied { message } = &error else {
        panic!("{error:?}")
    };
    assert!(
        message.contains("EC2 rejected the credentials"),
        "{message}"
    );
}

#[tokio::test]
async fn malformed_and_missing_ids_are_not_found() {
    for code in ["InvalidAMIID.Malformed", "InvalidAMIID.NotFound"] {
        let stub = Stub::start(move |_| ec2_error(400, code, "The image id does not exist")).await;
        let error = describe_with(&stub, 2).await;
        assert!(
            matches!(&error, AmiCatalogError::NotFound { ami: a, region } if *a == ami() && region == REGION),
            "{code}: {error:?}"
        );
    }
}

#[tokio::test]
async fn server_faults_are_retried_then_unreachable() {
    let stub =
        Stub::start(|_| ec2_error(500, "InternalError", "An internal error has occurred")).await;
    let error = describe_with(&stub, 2).await;
    let AmiCatalogError::Unreachable(unreachable) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(unreachable.endpoint, stub.url);
    assert_eq!(
        unreachable.reason,
        "EC2 answered InternalError: An internal error has occurred"
    );
    assert_eq!(stub.requests().len(), 2);
}

#[tokio::test]
async fn other_service_errors_stay_opaque_and_name_the_operation() {
    let stub = Stub::start(|_| ec2_error(400, "InvalidParameterValue", "bad filter")).await;
    let error = describe_with(&stub, 2).await;
    assert_eq!(
        error.to_string(),
        "describe AMI ami-0123456789abcdef0 in eu-west-1 failed"
    );
    let source = std::error::Error::source(&error).unwrap();
    assert!(
        format!("{source:?}").contains("InvalidParameterValue"),
        "{source:?}"
    );
}

#[tokio::test]
async fn a_closed_port_is_unreachable_with_the_endpoint() {
    // Bind then drop a listener: the port is free and nothing answers on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let catalog = Ec2AmiCatalog::new(moto_config(&url).max_attempts(1).build().unwrap());
    let error = catalog.describe_ami(REGION, &ami()).await.unwrap_err();
    let AmiCatalogError::Unreachable(unreachable) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(unreachable.endpoint, url);
    assert!(!unreachable.reason.is_empty());
    assert!(
        unreachable.hint.contains("endpoint override"),
        "{}",
        unreachable.hint
    );
    assert!(
        error
            .to_string()
            .starts_with(&format!("cannot reach {url}: ")),
        "{error}"
    );
}

#[tokio::test]
async fn a_hung_endpoint_times_out_as_unreachable() {
    let stub = Stub::start(|_| Reply::Hang).await;
    let catalog = Ec2AmiCatalog::new(
        moto_config(&stub.url)
            .max_attempts(1)
            .attempt_timeout(Duration::from_millis(300))
            .build()
            .unwrap(),
    );
    let started = Instant::now();
    let error = catalog.describe_ami(REGION, &ami()).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    let AmiCatalogError::Unreachable(unreachable) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(unreachable.reason, "no answer in time");
}
