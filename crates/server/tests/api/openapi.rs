//! `/openapi.json` tells the truth: real requests and real answers of the
//! running service validate against the schemas it publishes, and answers
//! that break them do not.

use serde_json::{Value, json};

use crate::helpers::{Call, TestApp, spawn_app, spawn_app_with};

/// The published document, with the response schemas of the user route.
async fn document(app: &TestApp) -> Value {
    let response = app.get("/openapi.json", None).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// A validator for one schema of the document, with the document's
/// components beside it so that its `$ref`s resolve.
fn validator(document: &Value, pointer: &str) -> jsonschema::Validator {
    let mut root = document
        .pointer(pointer)
        .unwrap_or_else(|| panic!("the document has {pointer}"))
        .clone();
    root["components"] = document["components"].clone();
    jsonschema::draft202012::new(&root).expect("the schema compiles")
}

/// Where the user route's response schema for `status` is.
fn response_schema(status: u16) -> String {
    format!(
        "/paths/~1pay-fac~1{{merchant}}~1{{version}}~1user/post/responses/{status}/content/application~1json/schema"
    )
}

fn assert_valid(validator: &jsonschema::Validator, instance: &Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|error| format!("{error} at {}", error.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: {instance} breaks the schema: {errors:?}"
    );
}

#[tokio::test]
async fn real_requests_and_answers_validate_against_the_published_schemas() {
    let app = spawn_app_with(|config| config.sandbox = true).await;
    let document = document(&app).await;

    let body = validator(&document, "/components/schemas/UserSyncBody");
    let sent = json!({"merchantUserNo": "U1", "email": "a@example.com", "firstName": "Zoë", "lastName": null});
    assert_valid(&body, &sent, "a request body");

    let success = app.send(&Call::new(&sent.to_string())).await;
    assert_eq!(success.code(), "0000");
    assert_valid(
        &validator(&document, &response_schema(200)),
        &success.json,
        "a 0000 answer",
    );

    let mut wrong_merchant = Call::buyer("U2", "b@example.com");
    wrong_merchant.merchant = "NOBODY".into();
    let mut mis_signed = Call::buyer("U3", "c@example.com");
    mis_signed.signature = Some("AAAA".into());
    let not_json = Call::new("[1]");
    for (call, status) in [(wrong_merchant, 404), (mis_signed, 401), (not_json, 400)] {
        let answer = app.send(&call).await;
        assert_eq!(answer.status, status, "{}", answer.json);
        assert_valid(
            &validator(&document, &response_schema(status)),
            &answer.json,
            &format!("a {status} answer"),
        );
    }
    let too_large = app
        .send(&Call::new(&format!(
            r#"{{"merchantUserNo":"U4","email":"d@example.com","x":"{}"}}"#,
            "x".repeat(70_000)
        )))
        .await;
    assert_eq!(too_large.status, 413);
    assert_valid(
        &validator(&document, &response_schema(413)),
        &too_large.json,
        "a 413 answer",
    );
}

/// The schemas are strict enough to catch a wrong answer: the test above
/// could not fail if they accepted anything.
#[tokio::test]
async fn the_schemas_refuse_what_the_service_never_sends() {
    let app = spawn_app().await;
    let document = document(&app).await;
    let body = validator(&document, "/components/schemas/UserSyncBody");
    for wrong in [
        json!({"email": "a@example.com"}),
        json!({"merchantUserNo": 7, "email": "a@example.com"}),
        json!({"merchantUserNo": "U", "email": "a@example.com", "firstName": "x".repeat(65)}),
    ] {
        assert!(!body.is_valid(&wrong), "{wrong} passes");
    }
    let success = validator(&document, &response_schema(200));
    let mut answer = app.send(&Call::buyer("U1", "a@example.com")).await.json;
    assert!(success.is_valid(&answer));
    answer["data"] = json!({"userId": 17});
    assert!(!success.is_valid(&answer), "a numeric userId passes");
}
